import os
import tempfile
from collections.abc import Iterator

import pytest

# The settings create their data folder on import: give the tests' process a throw-away one.
os.environ.setdefault("SHOP_DATA_DIR", tempfile.mkdtemp(prefix="shop-tests-"))

from shop.runtime import ensure_redis

from tests.shopserver import RunningShop

# Settings read REDIS_URL when they are imported; make sure a Redis is there first.
ensure_redis()
# Playwright's sync API runs an event loop in the test thread; the ORM calls made next to it
# are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Iterator[RunningShop]:
    """runshop serving on a free port with its own data folder, its worker and its Redis."""
    running = RunningShop(tmp_path_factory.mktemp("shop-data"))
    try:
        yield running
    finally:
        running.stop()
