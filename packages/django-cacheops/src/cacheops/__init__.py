"""Redis ORM cache for Django: automatic and manual queryset caching, granular invalidation."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)  # 7.2 exported a module logger (and so ``logging``) too

__version__ = "8.0.0.dev0"
VERSION = tuple(int(p) if p.isdigit() else p for p in __version__.split("."))

__all__ = [
    "CacheMiss",
    "CacheopsLibrary",
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
    "install_cacheops": "query",
    "invalidate_all": "invalidation",
    "invalidate_dict": "invalidation",
    "invalidate_model": "invalidation",
    "invalidate_obj": "invalidation",
    "no_invalidation": "invalidation",
    "FileCache": "file_cache",
    "cached_view": "views",
    "cached_view_as": "views",
    "stats": "stats",
    "CacheopsLibrary": "templatetags.cacheops",
    "invalidate_fragment": "templatetags.cacheops",
    "reap_conjs": "management.commands.reapconjs",
    "redis_client": "redis",
    # django-cacheops 7.2's star imports made these importable from cacheops too
    "get_prefix": "keys",
    "DEFAULT_DB_ALIAS": "invalidation",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cacheops' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"cacheops.{module}"), name)
    globals()[name] = value
    return value
