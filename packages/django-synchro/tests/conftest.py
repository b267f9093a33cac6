from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_dbsettings_cache():
    """dbsettings caches values; a rolled-back test must not leak its checkpoint into the next."""
    cache.clear()
    yield
    cache.clear()
