"""Native async reads: ``aget``, ``afirst``, ``alast``, ``acount``, ``aexists``, ``aaggregate`` and
``async for`` read cache hits through ``redis.asyncio`` in the running event loop.

A hit never leaves the event loop: the cache key is computed in place (building SQL text touches
no database) and the payload is read with an asyncio Redis client.  A miss, or anything the
cache does not serve (local gets, dirty transactions, querysets already evaluated), falls back to
Django's own async method, which runs the synchronous (cached) code in a worker thread and
stores the result there, so the next call hits.

The asyncio client is built from the same settings as the synchronous one (``CACHEOPS_REDIS`` or
``CACHEOPS_SENTINEL``; ``redis.asyncio.cluster.RedisCluster`` on a cluster); redis.asyncio connections
belong to one event loop, so there is one client per running loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured, SynchronousOnlyOperation
from django.core.signals import setting_changed
from django.db.models import QuerySet
from django.db.models.query import MAX_GET_RESULTS
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from . import memory
from .conf import model_profile, settings
from .connections import AsyncLane, lane_allowed
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
from .keys import QueryPlan, query_plan, queryset_prefix, remembered_call
from .reads import bound, caching_profile, get_result, get_shortcut, hit_rows, is_local_get, pending_shortcut
from .redis import FAILURES, check_cluster, degrade, is_cluster, register
from .signals import cache_read
from .store import MISSING, loads

__all__ = ["aclose", "aread", "get_async_client", "install_async"]

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
# the lane of each loop's client, or None when its commands go through the client (the rule of
# cacheops.connections.lane_allowed: its connections are not the pool's, so only beside an unbounded pool)
_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncLane | None] = weakref.WeakKeyDictionary()
_scripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_original: dict[str, Any] = {}


def _make_async_client() -> Any:
    conf = settings.CACHEOPS_REDIS
    sentinel = settings.CACHEOPS_SENTINEL
    if conf and sentinel:
        raise ImproperlyConfigured("Specify only one of CACHEOPS_REDIS and CACHEOPS_SENTINEL, not both")
    client_class = settings.CACHEOPS_CLIENT_CLASS
    if is_cluster():
        check_cluster(conf, sentinel)
        if not issubclass(client_class, AsyncRedisCluster):
            client_class = AsyncRedisCluster  # the asyncio twin of redis.cluster.RedisCluster
        if isinstance(conf, str):
            return client_class.from_url(conf)
        return client_class(**{k: v for k, v in conf.items() if k != "db"})
    if not (isinstance(client_class, type) and issubclass(client_class, redis.asyncio.Redis)):
        client_class = redis.asyncio.Redis  # a synchronous client class can't serve the event loop
    if sentinel:
        from redis.asyncio.sentinel import Sentinel

        options = dict(sentinel)
        try:
            locations = options.pop("locations")
            service = options.pop("service_name")
        except KeyError as e:
            raise ImproperlyConfigured(f"CACHEOPS_SENTINEL: missing {e.args[0]!r}") from None
        db = options.pop("db", 0)
        sentinel_kwargs = options.pop("sentinel_kwargs", None)
        return Sentinel(locations, sentinel_kwargs=sentinel_kwargs, **options).master_for(
            service, redis_class=client_class, db=db, **options
        )
    if isinstance(conf, str):
        return client_class.from_url(conf)
    return client_class(**conf)


def get_async_client() -> Any:
    """The ``redis.asyncio`` client of the running event loop (created on first use in that loop)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        with _lock:
            client = _clients.get(loop)
            if client is None:
                client = _make_async_client()
                _lanes[loop] = AsyncLane(client) if lane_allowed(client) else None
                _clients[loop] = client
    return client


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHEOPS_REDIS", "CACHEOPS_SENTINEL", "CACHEOPS_CLIENT_CLASS"):
        with _lock:
            _clients.clear()
            _lanes.clear()  # their connections belong to loops that may not run now: dropped
            _scripts.clear()


async def _acall(*args: Any) -> Any:
    """``await get_async_client().execute_command(*args)``, through the loop's lane when it has one."""
    client = get_async_client()
    lane = _lanes.get(asyncio.get_running_loop())
    if lane is None or lane.client is not client:
        return await client.execute_command(*args)
    return await lane.call(*args)


async def _arun_script(name: str, args: list[Any]) -> Any:
    """The reply of a store script (no keys) in the running loop: EVALSHA, EVAL on NOSCRIPT."""
    script = _script(name)
    if _lanes.get(asyncio.get_running_loop()) is None:
        return await script(args=args)
    try:
        return await _acall("EVALSHA", script.sha, 0, *args)
    except redis.exceptions.NoScriptError:
        return await _acall("EVAL", script.script, 0, *args)


setting_changed.connect(_reset, dispatch_uid="cacheops.aio.reset")


def _script(name: str) -> Any:
    loop = asyncio.get_running_loop()
    scripts = _scripts.setdefault(loop, {})
    script = scripts.get(name)
    if script is None:
        text = resources.files("cacheops").joinpath(f"lua/{name}.lua").read_text(encoding="utf-8")
        script = scripts[name] = register(text, get_async_client())
    return script


async def aread(prefix: str, key: str) -> Any:
    """The cached value under ``key`` read through redis.asyncio, or MISSING (also when Redis is
    unreachable and CACHEOPS_DEGRADE_ON_FAILURE is on)."""
    try:
        if settings.CACHEOPS_INSIDEOUT:
            data = await _arun_script("read_insideout", [prefix, key])
        else:
            data = await _acall("GET", prefix + key)
    except FAILURES as e:
        degrade(e)
        return MISSING
    if data is None or data is False:
        return MISSING
    return loads(data)


async def _aread_fast(qs: Any, prefix: str, plan: QueryPlan) -> Any:
    """Fast mode: the in-memory copy while it is valid (see :mod:`cacheops.memory`), else the Redis
    payload (remembered in memory with what it depends on, noted just before it was read)."""
    key = plan.key
    entry = memory.local_cache.lookup(prefix, key)
    if entry is not None and memory.trusted(entry):
        return memory.fresh_copy(entry.value)
    client = get_async_client()
    try:
        if entry is not None:
            noted = memory.listener.counts(entry.names) if memory.push_checked() else None
            if memory.still_valid(entry, await client.mget(entry.stamp_keys)):
                if noted is not None:
                    entry.counts = noted
                return memory.fresh_copy(entry.value)
            memory.local_cache.discard(prefix, key)
        tables = plan.get_conditions(qs)
        names, noted = memory.prepare_read(prefix, tables)
        pipe = client.pipeline(transaction=False)
        script = _script("read_insideout") if settings.CACHEOPS_INSIDEOUT else None
        keys, queued = memory.queue_read(pipe, prefix, key, tables, script)
        if queued is not None:
            await queued  # an asyncio script queues itself on the pipeline when awaited
        pipe.pttl(prefix + key)
        replies = await pipe.execute()
    except FAILURES as e:
        degrade(e)
        return MISSING
    return memory.remember_read(prefix, key, keys, replies, names, noted)


async def _aread_op(qs: Any, op: str, extra: Any = "") -> tuple[bool, Any]:
    """``(True, value)`` for a cache hit of ``op`` on ``qs``; ``(False, None)`` when the synchronous
    path must run (not cached, a miss, or the key can't be built without the database)."""
    profile = caching_profile(qs, op)
    if profile is None:
        return False, None
    if profile.get("local") and is_cluster():  # fast mode on a cluster: the synchronous path reads
        return False, None
    shortcut = pending_shortcut(qs, op)
    if shortcut is not None:  # a deferred filter() whose key is remembered
        value = await _aread_remembered(qs, shortcut)
        if value is not MISSING:
            cache_read.send(sender=qs.model, func=None, hit=True)
            return True, value
    try:
        plan = query_plan(qs, op, extra, db_agnostic=profile["db_agnostic"])
        prefix = queryset_prefix(qs, plan)
    except SynchronousOnlyOperation:  # a backend that must ask the server before it can quote SQL
        return False, None
    key = plan.key
    if profile.get("local"):
        value = await _aread_fast(qs, prefix, plan)
    else:
        value = await aread(prefix, key)
    if value is MISSING:
        return False, None
    cache_read.send(sender=qs.model, func=None, hit=True)
    return True, value


async def _afill(qs: Any) -> bool:
    """Fill ``qs._result_cache`` from a cache hit (prefetching included); False on a miss."""
    if result_cache(qs) is not None:
        return True
    op = "get" if qs._cacheops_get else "fetch"
    if op == "get" and is_local_get(qs):
        return False
    hit, result = await _aread_op(qs, op)
    if not hit:
        return False
    set_result_cache(qs, bound(qs, result))
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


async def _aread_remembered(qs: Any, shortcut: tuple) -> Any:
    """The value under a remembered shortcut key (see ``cacheops.query``), or MISSING."""
    remembered = remembered_call(shortcut)
    if remembered is None:
        return MISSING
    profile, plan = remembered
    prefix = queryset_prefix(qs, plan)
    if profile.get("local"):
        return memory.trusted_copy(prefix, plan.key)
    return await aread(prefix, plan.key)


async def aget(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``get()`` reading a cache hit without leaving the event loop."""
    if result_cache(self) is None and not self._cacheops_get:
        shortcut = get_shortcut(self, args, kwargs)
        if shortcut is not None:
            result = await _aread_remembered(self, shortcut)
            if result is not MISSING:
                return get_result(self, hit_rows(self, result))
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
    hit, value = await _aread_op(self, "count")
    return value if hit else await _original["acount"](self)


async def aexists(self: Any) -> bool:
    """``exists()`` reading a cache hit without leaving the event loop."""
    rows = result_cache(self)
    if rows is not None:
        return bool(rows)
    hit, value = await _aread_op(self, "exists")
    return value if hit else await _original["aexists"](self)


async def aaggregate(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``aggregate()`` reading a cache hit without leaving the event loop (same key as the sync one)."""
    extra = repr((args, sorted(kwargs.items())))
    if " at 0x" not in extra and "Subquery" not in extra and "Exists" not in extra:
        hit, value = await _aread_op(self, "aggregate", extra)
        if hit:
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


async def aclose() -> None:
    """Close the asyncio client of the running event loop (e.g. before the loop ends)."""
    loop = asyncio.get_running_loop()
    with _lock:
        client = _clients.pop(loop, None)
        lane = _lanes.pop(loop, None)
        _scripts.pop(loop, None)
    if lane is not None:
        await lane.close()
    if client is not None:
        await client.aclose()
