from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_dbsettings_cache():
    """dbsettings caches values; a rolled-back test must not leak its checkpoint into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english():
    """A request with Accept-Language leaves its language active in this thread: reset it."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()
