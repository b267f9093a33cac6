"""Benchmark: redis-py's client against a "lane" of cacheops' own for the commands of a cached read.

cacheops sends GET, MGET and the store scripts through the client (its connection pool and
``Script`` objects).  Issue 18 allows a lane, a shorter path of cacheops' own, only when it makes
hits at least 20 % cheaper and honours the pool's ``max_connections``.  Two lanes are measured
here against the client, installed in place of ``cacheops.store``'s ``get``/``mget``/``run_script``:

* ``pool lane``: each command borrows a connection with ``pool.get_connection()`` and gives it
  back with ``pool.release()`` (``max_connections`` honoured, the pool's checks run), skipping
  the rest of ``execute_command()`` (retry wrapper, response callbacks, bookkeeping);
* ``own lane``: connections of its own, made by the pool's connection class and kept on a free
  list (what cacheops did before: uncounted by ``max_connections``, no checks).

The workloads: a ``get(pk)`` hit, a ``count()`` hit, a miss and store (``count()`` of a filter
never read before: read with epochs, the database, then the store script).  Times are CPU
seconds of this process per operation (the Redis server's own time is the same on every side and
not in them), with wall-clock ratios next to them.  The sides are measured alternately for
``CACHEOPS_BENCH_ROUNDS`` rounds (default 5), each a best of 7 runs, and each side's best over
all rounds counts: the load of a shared machine drifts during a run.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

import benchsetup
from benchsetup import configure, populate

ROUNDS = max(1, int(os.environ.get("CACHEOPS_BENCH_ROUNDS", "5")))
REPEAT = 7
NEVER = (float("inf"), float("inf"))
KEEP_IF = 0.80  # lane/client on hits at or below this would justify a lane (issue 18)


class PoolLane:
    """Each command on a connection borrowed from the client's pool and given back."""

    def __init__(self, client: Any) -> None:
        self.pool = client.connection_pool

    def call(self, *args: Any) -> Any:
        conn = self.pool.get_connection()
        try:
            conn.send_packed_command(conn.pack_command(*args))
            return conn.read_response()
        finally:
            self.pool.release(conn)


class OwnLane:
    """Each command on a connection of the lane's own free list (made as the pool makes them)."""

    def __init__(self, client: Any) -> None:
        pool = client.connection_pool
        self.make = lambda: pool.connection_class(**pool.connection_kwargs)
        self.free: list[Any] = []

    def call(self, *args: Any) -> Any:
        conn = self.free.pop() if self.free else self.make()
        conn.connect()  # a no-op once connected
        conn.send_packed_command(conn.pack_command(*args))
        reply = conn.read_response()
        self.free.append(conn)
        return reply

    def close(self) -> None:
        for conn in self.free:
            conn.disconnect()


def install(lane: Any) -> Callable[[], None]:
    """Send cacheops.store's GET, MGET and scripts through ``lane``; returns the undo."""
    import redis

    from cacheops import store
    from cacheops.redis import load_script

    def run_script(name: str, args: list[Any]) -> Any:
        script = load_script(name)
        try:
            return lane.call("EVALSHA", script.sha, 0, *args)
        except redis.exceptions.NoScriptError:
            return lane.call("EVAL", script.script, 0, *args)

    saved = store.get, store.mget, store.run_script
    store.get = lambda key: lane.call("GET", key)
    store.mget = lambda keys: lane.call("MGET", *keys)
    store.run_script = run_script

    def undo() -> None:
        store.get, store.mget, store.run_script = saved

    return undo


def least(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), min(a[1], b[1])


def main() -> None:
    from shared_testing.bench import readme_row
    from shared_testing.servers import get_redis_server

    started = time.perf_counter()
    configure(get_redis_server().url_for_db(14))
    from tests.testapp.models import Post

    from cacheops import invalidate_all
    from cacheops.redis import get_client

    invalidate_all()
    cats, first = populate()
    pk = first.pk
    unseen = itertools.count(-1, -1)  # primary keys no row has: every count() is a new query
    workloads: dict[str, tuple[Callable[[], object], int]] = {
        "hit: get(pk)": (lambda: Post.objects.get(pk=pk), 300),
        "hit: count()": (lambda: Post.objects.filter(rating=3).count(), 300),
        "miss+store: count()": (lambda: Post.objects.filter(pk=next(unseen)).count(), 100),
    }
    sides = ("client", "pool lane", "own lane")
    times = {(name, side): NEVER for name in workloads for side in sides}
    for _ in range(ROUNDS):
        for side in sides:
            client = get_client()
            lane = {"client": None, "pool lane": PoolLane, "own lane": OwnLane}[side]
            lane = lane and lane(client)
            undo = install(lane) if lane is not None else (lambda: None)
            try:
                for name, (work, number) in workloads.items():
                    work()
                    work()
                    times[name, side] = least(times[name, side], benchsetup.best(work, number, REPEAT))
            finally:
                undo()
                if isinstance(lane, OwnLane):
                    lane.close()

    print(f"(each side's best of {ROUNDS} alternating rounds x {REPEAT} runs; lower is better)")
    print("A lane of cacheops' own against redis-py's client, CPU per operation")
    table = ("", "lane/client", "a lane needs")
    for name in workloads:
        client = times[name, "client"]
        parts = [f"  {name:<20} client {client[0] * 1e6:6.1f} us"]
        for side in sides[1:]:
            lane = times[name, side]
            cpu, wall = lane[0] / client[0], lane[1] / client[1]
            parts.append(f"{side} {lane[0] * 1e6:6.1f} us ({cpu:.2f}x cpu {wall:.2f}x wall)")
        print(", ".join(parts))
    for name in workloads:
        label = name.replace("get(pk)", "`get(pk)`").replace("count()", "`count()`")
        for side in sides[1:]:
            ratio = times[name, side][0] / times[name, "client"][0]
            readme_row(
                table, [f"{side}, {label}", f"{ratio:.2f}", f"≤ {KEEP_IF}" if name.startswith("hit") else ""]
            )
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
