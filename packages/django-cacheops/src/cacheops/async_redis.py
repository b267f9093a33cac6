"""The ``redis.asyncio`` client of each running event loop, with its lane and its scripts.

The asyncio client is built from the same settings as the synchronous one (``CACHEOPS_REDIS`` or
``CACHEOPS_SENTINEL``; ``redis.asyncio.cluster.RedisCluster`` on a cluster).  redis.asyncio
connections belong to one event loop, so each running loop gets a client of its own, and a lane
(:class:`cacheops.connections.AsyncLane`) that takes its connections from that client's pool under
the rule of :func:`cacheops.connections.lane_size`: ``max_connections`` bounds the lane too.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from importlib import resources
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from .conf import on_change, settings
from .connections import AsyncLane, lane_size
from .redis import is_cluster, register
from .redis_settings import connection_settings

__all__ = ["acall", "aclose", "arun_script", "ascript", "get_async_client"]


class _LoopRedis:
    """What one event loop holds: its client, the client's lane (or None) and the loaded scripts."""

    __slots__ = ("client", "lane", "scripts")

    def __init__(self, client: Any) -> None:
        self.client = client
        size = lane_size(client)
        self.lane = AsyncLane(client, size) if size else None
        self.scripts: dict[str, Any] = {}


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopRedis] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _make_async_client() -> Any:
    conf, sentinel = connection_settings(is_cluster())
    client_class = settings.CACHEOPS_CLIENT_CLASS
    if is_cluster():
        if not issubclass(client_class, AsyncRedisCluster):
            client_class = AsyncRedisCluster  # the asyncio twin of redis.cluster.RedisCluster
    elif not (isinstance(client_class, type) and issubclass(client_class, redis.asyncio.Redis)):
        client_class = redis.asyncio.Redis  # a synchronous client class can't serve the event loop
    if sentinel is not None:
        from redis.asyncio.sentinel import Sentinel

        return sentinel.master(Sentinel, client_class)
    if isinstance(conf, str):
        return client_class.from_url(conf)
    return client_class(**conf)


def _loop_redis() -> _LoopRedis:
    loop = asyncio.get_running_loop()
    held = _loops.get(loop)
    if held is None:
        with _lock:
            held = _loops.get(loop)
            if held is None:
                _forget_closed_loops()
                held = _loops[loop] = _LoopRedis(_make_async_client())
    return held


def _forget_closed_loops() -> None:
    """Drop what the loops closed without ``aclose()`` held (with ``_lock`` held).  Their client's
    connections refer to their loop, so its weak key alone never let such a loop go: each
    ``asyncio.run()`` and each ``async_to_sync()`` from synchronous code (an async view under WSGI)
    kept a client and its open connections to Redis for good.  Dropped, the garbage collector
    closes their sockets, as asyncio does for the transports of any closed loop."""
    for loop in [loop for loop in list(_loops.keys()) if loop.is_closed()]:
        _loops.pop(loop, None)


def get_async_client() -> Any:
    """The ``redis.asyncio`` client of the running event loop (created on first use in that loop)."""
    return _loop_redis().client


def get_async_lane() -> AsyncLane | None:
    """The lane of the running loop's client, or None when its commands go through the client."""
    return _loop_redis().lane


async def acall(*args: Any) -> Any:
    """The reply to the command ``args`` in the running loop: over the loop's lane when it has
    one, else ``await client.execute_command(*args)``."""
    held = _loop_redis()
    if held.lane is None:
        return await held.client.execute_command(*args)
    return await held.lane.call(*args)


def ascript(name: str) -> Any:
    """The running loop's ``Script`` object of cacheops/lua/<name>.lua."""
    held = _loop_redis()
    script = held.scripts.get(name)
    if script is None:
        text = resources.files("cacheops").joinpath(f"lua/{name}.lua").read_text(encoding="utf-8")
        script = held.scripts[name] = register(text, held.client)
    return script


async def arun_script(name: str, args: list[Any]) -> Any:
    """The reply of a cacheops script (no keys) in the running loop: the ``Script`` object through
    the client, or EVALSHA over the lane (EVAL of its text on NOSCRIPT)."""
    script = ascript(name)
    lane = _loop_redis().lane
    if lane is None:
        return await script(args=args)
    try:
        return await lane.call("EVALSHA", script.sha, 0, *args)
    except redis.exceptions.NoScriptError:
        return await lane.call("EVAL", script.script, 0, *args)


@on_change
def _setting_changed(setting: str) -> None:
    if setting in ("CACHEOPS_REDIS", "CACHEOPS_SENTINEL", "CACHEOPS_CLIENT_CLASS"):
        with _lock:
            # the clients and lanes of loops that may not run now: dropped with their connections
            _loops.clear()


async def aclose() -> None:
    """Close the asyncio client of the running event loop (e.g. before the loop ends); its lane
    gives its connections back to the pool first."""
    with _lock:
        held = _loops.pop(asyncio.get_running_loop(), None)
    if held is None:
        return
    if held.lane is not None:
        await held.lane.close()
    await held.client.aclose()
