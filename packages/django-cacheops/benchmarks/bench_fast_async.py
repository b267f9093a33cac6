"""Benchmark: fast mode against the classic cache hit, native async hits against Django's async path.

* fast mode (``local`` profile option) hit / classic hit, same queryset, same run (target <= 0.3x);
* what a fast-mode hit costs in microseconds of CPU, beside the classic hit, and of what: building
  the queryset (Django's manager and QuerySet, plus cacheops' deferred filter), copying the result
  out of memory (fresh instances for every caller), and the rest (cacheops' checks: the remembered
  key, the profile, the listener's counters, the LRU, the hit signal; Django's own get() checks);
* inside an async function (as in an async view): ``await qs.aget()`` served through redis.asyncio
  against Django's own ``aget`` (``sync_to_async(get)``, a thread hop to the same cached ``get``),
  and against a plain synchronous hit (target <= 0.7x of the thread-hop path), with redis-py's
  default pool (bounded: 100 connections in redis-py 8), whose loop lane keeps 4 of them; and the
  same native hit through the asyncio client (a pool of 3, too small for a lane) against the lane.

Times are CPU seconds of this process (all threads) with wall-clock ratios next to them; every
number is a ratio against a baseline measured in the same run. The two sides of each ratio are
measured alternately for ``CACHEOPS_BENCH_ROUNDS`` rounds (default 3), each a best of 7 runs, and
each side's best over all of them counts: the load of a shared machine drifts during a run.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import benchsetup
from benchsetup import configure, populate

CLASSIC = {"testapp.*": {"ops": "all", "timeout": 3600}}
FAST = {"testapp.*": {"ops": "all", "timeout": 3600, "local": True}}
ROUNDS = max(1, int(os.environ.get("CACHEOPS_BENCH_ROUNDS", "5")))
REPEAT = 7
NEVER = (float("inf"), float("inf"))


def best(func: Callable[[], object], number: int, repeat: int = REPEAT) -> tuple[float, float]:
    return benchsetup.best(func, number, repeat)


async def abest(
    func: Callable[[], Awaitable[object]], number: int, repeat: int = REPEAT
) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(number):
            await func()
        cpu.append((time.process_time() - c) / number)
        wall.append((time.perf_counter() - w) / number)
    return min(cpu), min(wall)


def least(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), min(a[1], b[1])


def ratio(a: tuple[float, float], b: tuple[float, float], target: float | None = None) -> str:
    """CPU and wall ratios; against a target the CPU ratio decides."""
    text = f"{a[0] / b[0]:>6.2f}x cpu {a[1] / b[1]:>6.2f}x wall"
    if target is None:
        return text + "   (no target)"
    return text + f"   target <= {target:.2f}: {'met' if a[0] / b[0] <= target else 'MISSED'}"


def main() -> None:
    from shared_testing.bench import readme_row
    from shared_testing.servers import get_redis_server

    started = time.perf_counter()
    url = get_redis_server().url_for_db(12)
    configure(url, CACHEOPS=CLASSIC)
    from django.test.utils import override_settings
    from tests.testapp.models import Post

    from cacheops import invalidate_all
    from cacheops.aio import _original as django_async
    from cacheops.async_redis import aclose, get_async_client, get_async_lane
    from cacheops.copies import fresh_copy, kept_copy

    invalidate_all()
    cats, first = populate()
    pk = first.pk
    workloads: dict[str, Callable[[], object]] = {
        "get(pk)": lambda: Post.objects.get(pk=pk),
        "fetch 100 rows": lambda: list(Post.objects.filter(category=cats[0])),
        "count": lambda: Post.objects.filter(rating=3).count(),
    }

    print(f"(each side's best of {ROUNDS} alternating rounds x {REPEAT} runs)")
    print("Fast mode hit against the classic hit (lower is better)")
    table = ("", "ratio", "target")
    labels = {"get(pk)": "`get(pk)`", "fetch 100 rows": "100-row fetch", "count": "`count()`"}
    rows: list[list[str]] = []
    costs: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
    for name, work in workloads.items():
        classic = fast = NEVER
        for _ in range(ROUNDS):
            work()
            classic = least(classic, best(work, 100))
            with override_settings(CACHEOPS=FAST):
                work()
                work()
                fast = least(fast, best(work, 100))
        costs[name] = (fast, classic)
        print(f"  {name:<16} fast/classic {ratio(fast, classic, 0.30)}")
        rows.append([f"fast/classic hit: {labels[name]}", f"{fast[0] / classic[0]:.2f}", "≤ 0.3"])

    # what a fast-mode hit is made of: the queryset built as the workload builds it, the copy of
    # its result handed out, and the rest (measured as the difference)
    builds: dict[str, Callable[[], object]] = {
        "get(pk)": lambda: Post.objects.all(),  # get(pk=...) with a remembered key builds no filter
        "fetch 100 rows": lambda: Post.objects.filter(category=cats[0]),
        "count": lambda: Post.objects.filter(rating=3),
    }
    results = {
        "get(pk)": [Post.objects.get(pk=pk)],
        "fetch 100 rows": list(Post.objects.filter(category=cats[0])),
        "count": Post.objects.filter(rating=3).count(),
    }
    print("\nWhat a fast-mode hit costs (CPU microseconds per call, best of the run)")
    for name, work in workloads.items():
        kept = kept_copy(results[name])
        build = copy = NEVER
        for _ in range(ROUNDS):
            with override_settings(CACHEOPS=FAST):
                work()
                build = least(build, best(builds[name], 1000))
            copy = least(copy, best(functools.partial(fresh_copy, kept), 1000))
        total, classic = costs[name]
        rest = total[0] - build[0] - copy[0]
        print(
            f"  {name:<16} {total[0] * 1e6:6.1f} us (classic hit {classic[0] * 1e6:6.1f} us, "
            f"{total[0] / classic[0]:.2f}x): building the queryset {build[0] * 1e6:.1f}, "
            f"copying the result {copy[0] * 1e6:.1f}, "
            f"the rest (cacheops' checks, Django around it) {rest * 1e6:.1f}"
        )
        rows.append([f"fast-mode hit: {labels[name]} (CPU µs)", f"{total[0] * 1e6:.1f}", ""])

    async def async_round() -> dict[str, tuple[float, float]]:
        try:
            Post.objects.get(pk=pk)  # stored by the synchronous path
            await Post.objects.aget(pk=pk)
            lane = get_async_lane()
            pools.add((get_async_client().connection_pool.max_connections, lane and lane.size))
            out = {
                "native": await abest(lambda: Post.objects.aget(pk=pk), 150),
                "thread hop": await abest(lambda: django_async["aget"](Post.objects.all(), pk=pk), 150),
            }
            with override_settings(CACHEOPS_REDIS=url + "?max_connections=3"):
                await Post.objects.aget(pk=pk)
                assert get_async_lane() is None
                out["native, no lane"] = await abest(lambda: Post.objects.aget(pk=pk), 150)
                await aclose()
            with override_settings(CACHEOPS=FAST):
                await Post.objects.aget(pk=pk)
                await Post.objects.aget(pk=pk)
                out["fast native"] = await abest(lambda: Post.objects.aget(pk=pk), 150)
            return out
        finally:
            await aclose()

    pools: set[tuple[int, int | None]] = set()
    times: dict[str, Any] = dict.fromkeys(
        ("native", "thread hop", "native, no lane", "fast native", "sync"), NEVER
    )
    for _ in range(ROUNDS):
        for key, value in asyncio.run(async_round()).items():
            times[key] = least(times[key], value)
        times["sync"] = least(times["sync"], best(lambda: Post.objects.get(pk=pk), 150))
    native, hop = times["native"], times["thread hop"]
    print("\nInside an async function: a cached get(pk) hit (lower is better)")
    for bound, size in sorted(pools):
        print(f"  (the asyncio client's pool: max_connections={bound}; its loop lane keeps {size})")
    print(f"  native aget / Django's aget (sync_to_async hop) {ratio(native, hop, 0.70)}")
    print(f"  native aget over the lane / through the client   {ratio(native, times['native, no lane'])}")
    print(f"  native aget / synchronous get in sync code       {ratio(native, times['sync'])}")
    print(f"  fast-mode aget / Django's aget                   {ratio(times['fast native'], hop)}")
    rows.append(["native `aget()` / Django's `aget()`", f"{native[0] / hop[0]:.2f}", "≤ 0.7"])
    lane_row = "native `aget()` over the lane / through the asyncio client"
    rows.append([lane_row, f"{native[0] / times['native, no lane'][0]:.2f}", ""])
    rows.append(["fast-mode `aget()` / Django's `aget()`", f"{times['fast native'][0] / hop[0]:.2f}", ""])
    for row in rows:  # the README's second Benchmarks table
        readme_row(table, row)
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
