"""Native async reads: ``aget``, ``afirst``, ``alast``, ``acount``, ``aexists``, ``aaggregate`` and
``async for`` read cache hits through ``redis.asyncio`` in the running event loop.

A hit never leaves the event loop: the cache key is computed in place (building SQL text touches
no database) and the read seam (:func:`cacheops.reads.aread`) reads the payload, or fast mode's
copy in memory, with the running loop's asyncio client (:mod:`cacheops.async_redis`).  A miss, or
anything the cache does not serve (local gets, dirty transactions, querysets already evaluated),
falls back to Django's own async method, which runs the synchronous (cached) code in a worker
thread and stores the result there, so the next call hits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.db.models.query import MAX_GET_RESULTS

from .async_redis import aclose, get_async_client
from .conf import model_profile, settings
from .django_internals import (
    clone_queryset,
    default_ordering,
    fetch_all,
    first_last_check,
    get_drops_ordering,
    limit_rows,
    prefetch_pending,
    result_cache,
    run_prefetch,
    set_result_cache,
)
from .invalidation import missed, unreplicated
from .reads import aread, aread_remembered, get_result, get_shortcut
from .store import MISSING

__all__ = ["aclose", "get_async_client", "install_async"]

_original: dict[str, Any] = {}


def _sync_path_only() -> bool:
    """Whether reads must be left to Django's async methods, which run cacheops' synchronous code
    in a worker thread: while invalidations missed when Redis was unreachable (or unacknowledged by
    a cluster's replicas) wait to be sent again. The synchronous path sends them before it reads;
    a hit read here would give what they drop. (A coroutine run inside its caller's atomic block
    is left to that path by :func:`cacheops.reads.aread` itself.)"""
    return missed.pending or unreplicated.pending


async def _read(qs: Any, op: str, extra: Any = "") -> Any:
    """:func:`cacheops.reads.aread`, or MISSING when the synchronous path must read."""
    return MISSING if _sync_path_only() else await aread(qs, op, extra)


async def _afill(qs: Any) -> bool:
    """Fill ``qs._result_cache`` from a cache hit (prefetching included); False on a miss."""
    if result_cache(qs) is not None:
        return True
    result = await _read(qs, "get" if qs._cacheops_get else "fetch")
    if result is MISSING:
        return False
    set_result_cache(qs, result)
    if prefetch_pending(qs):
        await sync_to_async(run_prefetch)(qs)
    return True


def _may_cache(qs: Any) -> bool:
    """A cheap first look: whether any read of ``qs`` could be served from the cache."""
    return result_cache(qs) is None and settings.CACHEOPS_ENABLED and model_profile(qs.model) is not None


def _marked(qs: Any) -> QuerySet:
    """A copy of ``qs`` whose rows are cached as a ``get`` (like first()/last()/get() do)."""
    clone = clone_queryset(qs)  # inplace() querysets are changed in place, as the synchronous get() does
    clone._cacheops_get = True
    return clone


async def aget(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``get()`` reading a cache hit without leaving the event loop."""
    if result_cache(self) is None and not self._cacheops_get:
        shortcut = get_shortcut(self, args, kwargs)
        if shortcut is not None and not _sync_path_only():
            result = await aread_remembered(self, shortcut)
            if result is not MISSING:
                return get_result(self, result)
    if _may_cache(self) and not self.query.combinator:
        clone = _marked(self).filter(*args, **kwargs)
        if get_drops_ordering(self):
            clone = clone.order_by()
        if not clone.query.select_for_update:
            limit_rows(clone, MAX_GET_RESULTS)
            if await _afill(clone):
                return get_result(self, result_cache(clone) or [])
    return await _original["aget"](self, *args, **kwargs)


def _edge(self: Any, first: bool) -> QuerySet:
    queryset = _marked(self)
    if not (queryset.ordered or not default_ordering(queryset)):
        check = first_last_check(queryset)
        if check is not None:
            check(method="first" if first else "last")
        queryset = queryset.order_by("pk" if first else "-pk")
    elif not first:
        queryset = queryset.reverse()
    return queryset[:1]


async def afirst(self: Any) -> Any:
    """``first()`` reading a cache hit without leaving the event loop."""
    if _may_cache(self):
        queryset = _edge(self, first=True)
        if await _afill(queryset):
            rows = result_cache(queryset)
            return rows[0] if rows else None
    return await _original["afirst"](self)


async def alast(self: Any) -> Any:
    """``last()`` reading a cache hit without leaving the event loop."""
    if _may_cache(self):
        queryset = _edge(self, first=False)
        if await _afill(queryset):
            rows = result_cache(queryset)
            return rows[0] if rows else None
    return await _original["alast"](self)


async def acount(self: Any) -> int:
    """``count()`` reading a cache hit without leaving the event loop."""
    rows = result_cache(self)
    if rows is not None:
        return len(rows)
    value = await _read(self, "count")
    return value if value is not MISSING else await _original["acount"](self)


async def aexists(self: Any) -> bool:
    """``exists()`` reading a cache hit without leaving the event loop."""
    rows = result_cache(self)
    if rows is not None:
        return bool(rows)
    value = await _read(self, "exists")
    return value if value is not MISSING else await _original["aexists"](self)


async def aaggregate(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``aggregate()`` reading a cache hit without leaving the event loop (same key as the sync one)."""
    extra = repr((args, sorted(kwargs.items())))
    if " at 0x" not in extra and "Subquery" not in extra and "Exists" not in extra:
        value = await _read(self, "aggregate", extra)
        if value is not MISSING:
            return value
    return await _original["aaggregate"](self, *args, **kwargs)


def __aiter__(self: Any) -> AsyncIterator[Any]:
    async def generator() -> AsyncIterator[Any]:
        if not await _afill(self):
            await sync_to_async(fetch_all)(self)
        for item in result_cache(self) or ():
            yield item

    return generator()


_installed = False


def install_async() -> None:
    """Give QuerySet the async methods above (idempotent; run by ``install_cacheops()``)."""
    global _installed
    if _installed:
        return
    _installed = True
    methods = {
        "aget": aget,
        "afirst": afirst,
        "alast": alast,
        "acount": acount,
        "aexists": aexists,
        "aaggregate": aaggregate,
        "__aiter__": __aiter__,
    }
    for name, method in methods.items():
        _original[name] = getattr(QuerySet, name)
        setattr(QuerySet, name, method)
