"""Redis ORM cache for Django: automatic and manual queryset caching, granular invalidation."""

from __future__ import annotations

__version__ = "8.0.0.dev0"
VERSION = tuple(int(p) if p.isdigit() else p for p in __version__.split("."))

__all__ = [
    "CacheMiss",
    "cache",
    "cached",
    "cached_as",
    "install_cacheops",
    "invalidate_all",
    "invalidate_dict",
    "invalidate_model",
    "invalidate_obj",
    "no_invalidation",
    "FileCache",
    "cached_view",
    "cached_view_as",
    "stats",
]

# Importing cacheops must not need configured settings: names load on first access.
_LAZY = {
    "CacheMiss": "simple",
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
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cacheops' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"cacheops.{module}"), name)
    globals()[name] = value
    return value
