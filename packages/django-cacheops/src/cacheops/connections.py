"""Connections cacheops holds itself to the client's server ("the lane"), and when they may be used.

The commands of a cached read and store (GET, MGET, EVALSHA and EVAL of the store scripts) cost
less CPU over a connection cacheops holds than through ``client.execute_command()``: no pool lock,
no ``can_read()`` poll, no retry wrapper, no response callbacks or bookkeeping (see
``benchmarks/bench_lane.py``).

The lane of a synchronous client (:class:`Lane`, :mod:`cacheops.redis`) and that of each event
loop's asyncio client (:class:`AsyncLane`, :mod:`cacheops.async_redis`) take their connections from
the client's own pool (``pool.get_connection()``) and keep them checked out in a free list of their
own, so they count against ``max_connections``; a lane holds at most :func:`lane_size` of them (a
quarter of the bound, at most :data:`LANE_MAX`; none beside a pool of fewer than 4).  When all are
busy a command goes through the client, so a lane never waits and never raises for want of a
connection.  Never beside a ``BlockingConnectionPool`` (its waiting callers must get every
connection) or a cluster client.
"""

from __future__ import annotations

import inspect
import os
import threading
from typing import Any

import redis
import redis.asyncio

__all__ = ["LANE_MAX", "UNBOUNDED", "AsyncLane", "Lane", "lane_size"]

# redis-py's "no limit": the max_connections of its ConnectionPool (and the asyncio twin) before
# redis-py 8, which sets 100 when none is given.  A pool below this has a bound the lane must keep.
UNBOUNDED = 2**31
# the most connections a synchronous lane takes from a bounded pool (and never more than a quarter)
LANE_MAX = 4
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


def _eligible(client: Any) -> bool:
    """Whether ``client`` executes commands as redis-py does, over a plain ``ConnectionPool``."""
    kind = next((kind for kind in _EXECUTION if isinstance(client, kind[0])), None)
    if kind is None:
        return False  # a cluster client, or anything else
    client_class, pool_class, blocking_class, methods = kind
    pool = getattr(client, "connection_pool", None)
    if (
        getattr(client, "connection", None) is not None
        or getattr(client, "single_connection_client", False)  # an asyncio one connects on first use
        or not isinstance(pool, pool_class)
        or isinstance(pool, blocking_class)
        or getattr(pool, "cache", None) is not None
        or not hasattr(pool, "connection_class")
        or not hasattr(pool, "connection_kwargs")
    ):
        return False
    if not all(_redis_own(client, client_class, name) for name in methods):
        return False
    callbacks = getattr(client, "response_callbacks", {})
    return not any(callbacks.get(command) for command in LANE_COMMANDS)


def lane_size(client: Any) -> int:
    """How many connections the lane of ``client`` may take from its pool (0: no lane).

    Only a ``redis.Redis`` or ``redis.asyncio.Redis`` whose pool is a plain ``ConnectionPool``
    (Sentinel's included), with no client-side cache, redis-py's own command execution and
    parsing, no response callback for :data:`LANE_COMMANDS` and no single connection has a lane:
    beside an unbounded pool as many connections as run at once; beside ``max_connections=n``,
    ``min(LANE_MAX, n // 4)``.  Never a ``BlockingConnectionPool`` or a cluster client: their
    commands go through the client and its pool.
    """
    if not _eligible(client):
        return 0
    bound = getattr(client.connection_pool, "max_connections", 0)
    return UNBOUNDED if bound >= UNBOUNDED else max(0, min(LANE_MAX, bound // 4))


def _checkout(pool: Any) -> Any:
    """``pool.get_connection`` as a function of no argument (redis-py < 5.3 wants a command name;
    later ones warn when given one)."""
    param = inspect.signature(pool.get_connection).parameters.get("command_name")
    if param is not None and param.default is inspect.Parameter.empty:
        return lambda: pool.get_connection("GET")
    return pool.get_connection


class Lane:
    """The lane of a synchronous ``redis.Redis`` client: up to ``size`` connections checked out of
    the client's pool and kept (so they count against ``max_connections``), shared between threads
    (each call takes one off the free list) and safe across ``fork()`` (a child drops the parent's
    and takes its own from the pool, which redis-py has reset)."""

    def __init__(self, client: Any, size: int) -> None:
        self.client = client
        self.pool = client.connection_pool
        self.size = size
        self._get_connection = _checkout(self.pool)
        self._free: list[Any] = []
        self._held = 0  # connections taken from the pool and not given back
        self._lock = threading.Lock()
        # set by a connection failure: commands go through the client until one succeeds there
        self._down = False
        self._pid = os.getpid()
        self._closed = False

    def call(self, *args: Any) -> Any:
        """The reply to the command ``args``, as ``client.execute_command(*args)`` returns it.

        Over a free lane connection, or one newly taken from the pool while the lane holds fewer
        than ``size``; else (or when the pool has none to give) through the client.  An error reply
        (``ResponseError``: NOSCRIPT, WRONGTYPE...) is raised and keeps the connection.  A
        connection failure or timeout gives the lane's connections back to the pool (disconnected)
        and sends the command once more through the client, so its retries and errors (and
        ``CACHEOPS_DEGRADE_ON_FAILURE`` above) are as without a lane.  Anything else gives the
        connection in use back, disconnected, and propagates.
        """
        if self._pid != os.getpid():
            self._forked()
        if self._down or self._closed:
            return self._through_client(args)
        conn = self._connection()
        if conn is None:
            return self.client.execute_command(*args)
        try:
            conn.connect()  # a no-op when connected; a Sentinel connection finds the master here
            conn.send_packed_command(conn.pack_command(*args))
            reply = conn.read_response()
        except redis.ResponseError:  # read in full: the connection is sound
            self._give_back(conn)
            raise
        except _RETRY_ON_CLIENT:
            self._discard(conn)
            self._down = True
            self._drain()  # the others are likely as stale (a restarted or killed server)
            return self._through_client(args)
        except BaseException:  # the reply may be half read
            self._discard(conn)
            raise
        self._give_back(conn)
        return reply

    def close(self) -> None:
        """Give the free connections back to the pool; one in use goes back when its call ends."""
        self._closed = True
        self._drain()

    def _connection(self) -> Any:
        """The most recently used free connection (LIFO), one new from the pool, or None."""
        try:
            return self._free.pop()
        except IndexError:  # empty (or another thread took the last one)
            pass
        with self._lock:
            if self._held >= self.size:
                return None
            self._held += 1
        try:
            return self._get_connection()
        except _RETRY_ON_CLIENT:  # an exhausted pool, an unreachable server: the client decides
            with self._lock:
                self._held -= 1
            return None
        except BaseException:
            with self._lock:
                self._held -= 1
            raise

    def _through_client(self, args: tuple[Any, ...]) -> Any:
        reply = self.client.execute_command(*args)
        self._down = False
        return reply

    def _give_back(self, conn: Any) -> None:
        self._free.append(conn)
        if self._closed:
            self._drain()

    def _discard(self, conn: Any) -> None:
        """Disconnect ``conn`` and give it back to the pool (which counts it no more as the lane's)."""
        try:
            conn.disconnect()
        finally:
            with self._lock:
                self._held -= 1
            self.pool.release(conn)

    def _drain(self) -> None:
        while True:
            try:
                conn = self._free.pop()
            except IndexError:
                return
            self._discard(conn)

    def _forked(self) -> None:
        """In a child process: forget the parent's connections (its pool forgets them too)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            free, self._free = self._free, []
            self._held = 0
            self._pid = os.getpid()
        for conn in free:
            conn.disconnect()  # the parent's sockets: redis-py closes them without a shutdown


class AsyncLane:
    """The lane of one event loop's ``redis.asyncio.Redis`` client (only that loop uses it): up to
    ``size`` connections checked out of the client's pool (``await pool.get_connection()``) and
    kept, so they count against ``max_connections``; as :class:`Lane`, a command goes through the
    client when they are all busy or the pool has none to give."""

    def __init__(self, client: Any, size: int) -> None:
        self.client = client
        self.pool = client.connection_pool
        self.size = size
        self._get_connection = _checkout(self.pool)
        self._free: list[Any] = []
        self._held = 0  # connections taken from the pool and not given back
        # set by a connection failure: commands go through the client until one succeeds there
        self._down = False
        self._closed = False

    async def call(self, *args: Any) -> Any:
        """As :meth:`Lane.call`, awaited.  A call cancelled while its command is out gives its
        connection back disconnected: the late reply never reaches the next command."""
        if self._down or self._closed:
            return await self._through_client(args)
        conn = await self._connection()
        if conn is None:
            return await self.client.execute_command(*args)
        try:
            await conn.send_packed_command(conn.pack_command(*args))
            reply = await conn.read_response()
        except redis.ResponseError:  # read in full: the connection is sound
            await self._give_back(conn)
            raise
        except _RETRY_ON_CLIENT:
            await self._discard(conn)
            self._down = True
            await self._drain()  # the others are likely as stale (a restarted or killed server)
            return await self._through_client(args)
        except BaseException:  # cancelled mid-reply: the connection can't be reused
            await self._discard(conn)
            raise
        await self._give_back(conn)
        return reply

    async def close(self) -> None:
        """Give the free connections back to the pool; one in use goes back when its call ends."""
        self._closed = True
        await self._drain()

    async def _connection(self) -> Any:
        """The most recently used free connection (LIFO), one new from the pool, or None."""
        if self._free:
            return self._free.pop()
        if self._held >= self.size:
            return None
        self._held += 1  # counted before the await: another call of this loop sees it
        try:
            return await self._get_connection()
        except _RETRY_ON_CLIENT:  # an exhausted pool, an unreachable server: the client decides
            self._held -= 1
            return None
        except BaseException:
            self._held -= 1
            raise

    async def _through_client(self, args: tuple[Any, ...]) -> Any:
        reply = await self.client.execute_command(*args)
        self._down = False
        return reply

    async def _give_back(self, conn: Any) -> None:
        self._free.append(conn)
        if self._closed:
            await self._drain()

    async def _discard(self, conn: Any) -> None:
        """Disconnect ``conn`` and give it back to the pool (which counts it no more as the lane's)."""
        self._held -= 1
        try:
            await conn.disconnect(nowait=True)
        finally:
            await self.pool.release(conn)

    async def _drain(self) -> None:
        while self._free:
            await self._discard(self._free.pop())
