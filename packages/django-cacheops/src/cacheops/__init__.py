"""Redis ORM cache for Django: automatic and manual queryset caching, granular invalidation."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name loads on first access (below)
    # re-exported through __all__, except the two names 7.2's star imports leaked (hence "as")
    from django.db import DEFAULT_DB_ALIAS as DEFAULT_DB_ALIAS

    from . import file_cache
    from .counters import stats
    from .file_cache import FileCache
    from .install import install_cacheops
    from .invalidation import (
        invalidate_all,
        invalidate_dict,
        invalidate_model,
        invalidate_obj,
        no_invalidation,
    )
    from .keys import get_prefix as get_prefix
    from .management.commands.reapconjs import reap_conjs
    from .managers import CacheopsManager, CacheopsQuerySet
    from .redis import redis_client
    from .simple import CacheMiss, RedisCache, cache, cached, cached_as
    from .templatetags.cacheops import CacheopsLibrary, invalidate_fragment
    from .views import cached_view, cached_view_as

logger = logging.getLogger(__name__)  # 7.2 exported a module logger (and so ``logging``) too

__version__ = "8.0.0.dev0"
VERSION = tuple(int(p) if p.isdigit() else p for p in __version__.split("."))

__all__ = [
    "CacheMiss",
    "CacheopsLibrary",
    "CacheopsManager",
    "CacheopsQuerySet",
    "FileCache",
    "RedisCache",
    "cache",
    "cached",
    "cached_as",
    "cached_view",
    "cached_view_as",
    "file_cache",
    "install_cacheops",
    "invalidate_all",
    "invalidate_dict",
    "invalidate_fragment",
    "invalidate_model",
    "invalidate_obj",
    "no_invalidation",
    "reap_conjs",
    "redis_client",
    "stats",
]

# Importing cacheops must not need configured settings: names load on first access.
_LAZY = {
    "CacheMiss": "simple",
    "RedisCache": "simple",
    "cache": "simple",
    "cached": "simple",
    "cached_as": "simple",
    "install_cacheops": "install",
    "invalidate_all": "invalidation",
    "invalidate_dict": "invalidation",
    "invalidate_model": "invalidation",
    "invalidate_obj": "invalidation",
    "no_invalidation": "invalidation",
    "FileCache": "file_cache",
    "CacheopsManager": "managers",
    "CacheopsQuerySet": "managers",
    "cached_view": "views",
    "cached_view_as": "views",
    "stats": "counters",
    "CacheopsLibrary": "templatetags.cacheops",
    "invalidate_fragment": "templatetags.cacheops",
    "reap_conjs": "management.commands.reapconjs",
    "redis_client": "redis",
    # django-cacheops 7.2's star imports made these importable from cacheops too
    "get_prefix": "keys",
    "DEFAULT_DB_ALIAS": "invalidation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cacheops' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"cacheops.{module}"), name)
    globals()[name] = value
    return value
