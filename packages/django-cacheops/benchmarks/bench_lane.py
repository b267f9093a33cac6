"""Benchmark: cacheops' lane against redis-py's client for the commands of a cached read.

cacheops sends GET, MGET and the store scripts over a lane of connections it takes from the
client's pool and keeps (``cacheops.connections.lane_size``: a quarter of ``max_connections``, at
most 4; as many as needed beside an unbounded pool); without a lane through the client (its pool
and ``Script`` objects).  Three configurations of cacheops itself are measured here, alternately in
one run:

* ``client``: an unbounded pool with the lane switched off (what the lane saves);
* ``lane``: ``CACHEOPS_REDIS`` with ``?max_connections=2**31``: the lane is used;
* ``bounded``: ``?max_connections=100`` (redis-py 8's default): the lane keeps 4 of its connections.

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
from contextlib import ExitStack
from unittest import mock

import benchsetup
from benchsetup import configure, populate

ROUNDS = max(1, int(os.environ.get("CACHEOPS_BENCH_ROUNDS", "5")))
REPEAT = 7
NEVER = (float("inf"), float("inf"))
UNBOUNDED = 2**31  # cacheops.connections.UNBOUNDED
SIDES = ("client", "lane", "bounded")


def least(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), min(a[1], b[1])


def side(stack: ExitStack, name: str, url: str) -> None:
    """Configure cacheops as side ``name`` until ``stack`` closes (the client is rebuilt)."""
    from django.test import override_settings

    from cacheops import redis as cacheops_redis

    if name == "client":  # the unbounded pool, the lane switched off
        stack.enter_context(mock.patch.object(cacheops_redis, "lane_size", lambda client: 0))
    limit = 100 if name == "bounded" else UNBOUNDED
    stack.enter_context(override_settings(CACHEOPS_REDIS=f"{url}?max_connections={limit}"))
    assert (cacheops_redis.get_lane() is not None) == (name != "client"), name


def main() -> None:
    from shared_testing.bench import readme_row
    from shared_testing.servers import get_redis_server

    started = time.perf_counter()
    url = get_redis_server().url_for_db(14)
    configure(url)
    from tests.testapp.models import Post

    from cacheops import invalidate_all

    invalidate_all()
    cats, first = populate()
    pk = first.pk
    unseen = itertools.count(-1, -1)  # primary keys no row has: every count() is a new query
    workloads: dict[str, tuple[Callable[[], object], int]] = {
        "hit: get(pk)": (lambda: Post.objects.get(pk=pk), 300),
        "hit: count()": (lambda: Post.objects.filter(rating=3).count(), 300),
        "miss+store: count()": (lambda: Post.objects.filter(pk=next(unseen)).count(), 100),
    }
    times = {(name, s): NEVER for name in workloads for s in SIDES}
    for _ in range(ROUNDS):
        for s in SIDES:
            with ExitStack() as stack:
                side(stack, s, url)
                for name, (work, number) in workloads.items():
                    work()
                    work()
                    times[name, s] = least(times[name, s], benchsetup.best(work, number, REPEAT))

    print(f"(each side's best of {ROUNDS} alternating rounds x {REPEAT} runs; lower is better)")
    print("cacheops' lane beside an unbounded pool and a pool of 100 against the client, CPU per operation")
    for name in workloads:
        client = times[name, "client"]
        parts = [f"  {name:<20} client {client[0] * 1e6:6.1f} us"]
        for s in SIDES[1:]:
            t = times[name, s]
            parts.append(
                f"{s} {t[0] * 1e6:6.1f} us ({t[0] / client[0]:.2f}x cpu {t[1] / client[1]:.2f}x wall)"
            )
        print(", ".join(parts))
    table = ("", "client", "lane (unbounded pool)", "bounded pool (100), lane")
    for name in workloads:
        label = name.replace("get(pk)", "`get(pk)`").replace("count()", "`count()`")
        client = times[name, "client"][0]
        cells = [f"{client * 1e6:.1f} µs"]
        cells += [f"{times[name, s][0] * 1e6:.1f} µs ({times[name, s][0] / client:.2f}×)" for s in SIDES[1:]]
        readme_row(table, [label, *cells])
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
