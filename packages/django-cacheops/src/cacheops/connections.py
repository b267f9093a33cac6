"""Connections of cacheops' own to the client's server ("the lane"), and when they may be used.

The commands of a cached read and store (GET, MGET, EVALSHA and EVAL of the store scripts) cost
less CPU over a connection cacheops holds itself than through ``client.execute_command()``: no
pool lock, no ``can_read()`` poll, no retry wrapper, no response callbacks or bookkeeping (see
``benchmarks/bench_lane.py``).  Such connections are made by the pool's own
``connection_class(**connection_kwargs)`` (so unix sockets, SSL and Sentinel work) but the pool
does not count them.  One rule, :func:`lane_allowed`, decides for the synchronous client
(:mod:`cacheops.redis`) and for each event loop's asyncio client (:mod:`cacheops.aio`): a lane
only beside a pool without a bound, so a ``max_connections`` that is set always holds exactly.
"""

from __future__ import annotations

import os
from typing import Any

import redis
import redis.asyncio

__all__ = ["UNBOUNDED", "AsyncLane", "Lane", "lane_allowed"]

# redis-py's "no limit": the max_connections of its ConnectionPool (and the asyncio twin) before
# redis-py 8, which sets 100 when none is given.  A pool below this has a bound the lane must keep.
UNBOUNDED = 2**31
# the commands sent over a lane; their replies go back as read, so no client callback may apply
LANE_COMMANDS = ("GET", "MGET", "EVALSHA", "EVAL")
# how each kind of client executes and parses commands: a lane replaces these, so none may be
# overridden, replaced or wrapped (by a client class, on the instance, or by a tracing integration)
_EXECUTION: tuple[tuple[type, type, type, tuple[str, ...]], ...] = (
    (
        redis.Redis,
        redis.ConnectionPool,
        redis.BlockingConnectionPool,
        ("execute_command", "_execute_command", "_send_command_parse_response", "parse_response"),
    ),
    (
        redis.asyncio.Redis,
        redis.asyncio.ConnectionPool,
        redis.asyncio.BlockingConnectionPool,
        ("execute_command", "_send_command_parse_response", "parse_response"),
    ),
)
# a lane connection failing so: dropped, and the command sent once more through the client
_RETRY_ON_CLIENT = (redis.ConnectionError, redis.TimeoutError, OSError)


def _redis_own(client: Any, base: type, name: str) -> bool:
    """Whether method ``name`` of ``client`` is ``base``'s, as redis-py defines it."""
    func = getattr(type(client), name, None)
    return (
        name not in vars(client)
        and func is getattr(base, name, None)
        and (func is None or getattr(func, "__module__", "").startswith("redis."))
        and not hasattr(func, "__wrapped__")
    )


def lane_allowed(client: Any) -> bool:
    """Whether cacheops may send ``client``'s GET, MGET and scripts over a lane of its own.

    Only for a ``redis.Redis`` or ``redis.asyncio.Redis`` whose pool is a plain ``ConnectionPool``
    (Sentinel's included) with no bound (``max_connections`` of at least :data:`UNBOUNDED`), no
    client-side cache, redis-py's own command execution and parsing, no response callback for
    :data:`LANE_COMMANDS` and no single connection.  Never for a ``BlockingConnectionPool``, a
    bounded pool or a cluster client: their commands go through the client and its pool.
    """
    kind = next((kind for kind in _EXECUTION if isinstance(client, kind[0])), None)
    if kind is None:
        return False  # a cluster client, or anything else
    client_class, pool_class, blocking_class, methods = kind
    pool = getattr(client, "connection_pool", None)
    if (
        getattr(client, "connection", None) is not None
        or not isinstance(pool, pool_class)
        or isinstance(pool, blocking_class)
        or getattr(pool, "max_connections", 0) < UNBOUNDED
        or getattr(pool, "cache", None) is not None
        or not hasattr(pool, "connection_class")
        or not hasattr(pool, "connection_kwargs")
    ):
        return False
    if not all(_redis_own(client, client_class, name) for name in methods):
        return False
    callbacks = getattr(client, "response_callbacks", {})
    return not any(callbacks.get(command) for command in LANE_COMMANDS)


class _LaneBase:
    """What a lane holds: its client, how the client's pool makes connections and a free list."""

    def __init__(self, client: Any) -> None:
        pool = client.connection_pool
        self.client = client
        self._connection_class = pool.connection_class
        self._connection_kwargs = dict(pool.connection_kwargs)
        self._free: list[Any] = []
        # set by a connection failure: commands go through the client until one succeeds there
        self._down = False

    def _connection(self) -> Any:
        """The most recently used free connection (LIFO), or a new one."""
        try:
            return self._free.pop()
        except IndexError:  # empty (or another thread took the last one)
            return self._connection_class(**self._connection_kwargs)


class Lane(_LaneBase):
    """The lane of a synchronous ``redis.Redis`` client: safe to share between threads (each call
    takes a connection off the free list) and across ``fork()`` (a child never uses the parent's
    sockets)."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._pid = os.getpid()
        self._closed = False

    def call(self, *args: Any) -> Any:
        """The reply to the command ``args``, as ``client.execute_command(*args)`` returns it.

        An error reply (``ResponseError``: NOSCRIPT, WRONGTYPE...) is raised and keeps the
        connection.  A connection failure or timeout drops the lane's connections and sends the
        command once more through the client, so its retries and errors (and
        ``CACHEOPS_DEGRADE_ON_FAILURE`` above) are as without a lane.  Anything else drops the
        connection in use and propagates.
        """
        if self._pid != os.getpid():
            self._drain()  # the parent's sockets: redis-py closes them without a shutdown
            self._pid = os.getpid()
        if self._down:
            return self._through_client(args)
        conn = self._connection()
        try:
            conn.connect()  # a no-op when connected; a Sentinel connection finds the master here
            conn.send_packed_command(conn.pack_command(*args))
            reply = conn.read_response()
        except redis.ResponseError:  # read in full: the connection is sound
            self._give_back(conn)
            raise
        except _RETRY_ON_CLIENT:
            conn.disconnect()
            self._down = True
            self._drain()  # the others are likely as stale (a restarted or killed server)
            return self._through_client(args)
        except BaseException:  # the reply may be half read
            conn.disconnect()
            raise
        self._give_back(conn)
        return reply

    def close(self) -> None:
        """Disconnect the free connections; one in use is disconnected when given back."""
        self._closed = True
        self._drain()

    def _through_client(self, args: tuple[Any, ...]) -> Any:
        reply = self.client.execute_command(*args)
        self._down = False
        return reply

    def _give_back(self, conn: Any) -> None:
        self._free.append(conn)
        if self._closed:
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                conn = self._free.pop()
            except IndexError:
                return
            conn.disconnect()


class AsyncLane(_LaneBase):
    """The lane of one event loop's ``redis.asyncio.Redis`` client (only that loop uses it)."""

    async def call(self, *args: Any) -> Any:
        """As :meth:`Lane.call`, awaited."""
        if self._down:
            return await self._through_client(args)
        conn = self._connection()
        try:
            if not conn.is_connected:
                await conn.connect()
            await conn.send_packed_command(conn.pack_command(*args))
            reply = await conn.read_response()
        except redis.ResponseError:  # read in full: the connection is sound
            self._free.append(conn)
            raise
        except _RETRY_ON_CLIENT:
            await conn.disconnect(nowait=True)
            self._down = True
            await self.close()  # the others are likely as stale
            return await self._through_client(args)
        except BaseException:  # cancelled mid-reply: the connection can't be reused
            await conn.disconnect(nowait=True)
            raise
        self._free.append(conn)
        return reply

    async def close(self) -> None:
        """Disconnect the free connections."""
        free, self._free = self._free, []
        for conn in free:
            await conn.disconnect(nowait=True)

    async def _through_client(self, args: tuple[Any, ...]) -> Any:
        reply = await self.client.execute_command(*args)
        self._down = False
        return reply
