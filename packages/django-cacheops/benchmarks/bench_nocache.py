"""Benchmark: this package against no cache on PostgreSQL, with issue 18's targets.

The same reads and saves run with ``.nocache()`` and through the cache, side by side in one
process: ``CACHEOPS_BENCH_ROUNDS`` rounds (3 by default), each measuring every workload both ways
in turn, and the best time of each over the rounds counts. Ratios are speed ratios, uncached time
over cached time: higher is better, 0.6 means the cached path takes 1/0.6 of the plain one.

Times are both CPU time of this process and wall time. The targets are judged on wall time, what
a user waits for: CPU time of this process leaves out the work of the PostgreSQL server (another
process; across a network, another machine), so CPU ratios make the plain query look cheaper
than a user finds it.

Commits don't wait for the WAL to reach the disk (``synchronous_commit=off``, see
benchsetup.postgresql_database): that flush swings with whatever else writes to a shared disk, and
leaving it out makes a plain save cheaper, the stricter baseline. ``CACHEOPS_BENCH_DURABLE=1``
measures with durable commits.

The README's table is the default (classic) mode, measured in this process. The same workloads
then run in a child process per other storage mode (``CACHEOPS_INSIDEOUT``, and fast mode: the
profile's ``local``), and the targets are printed side by side for the three: which mode meets
which target.

The server: ``TEST_DATABASE_URL_POSTGRESQL``, else a throw-away cluster (as the test sessions
start theirs); without either (no server binaries, or no psycopg) the benchmark says so and ends.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchsetup import best, configure, populate, postgresql_database, postgresql_url

ROUNDS = max(1, int(os.environ.get("CACHEOPS_BENCH_ROUNDS", "3")))
REPEAT = 5  # timed runs per measurement inside one round; the best one counts
READS = ("get(pk)", "fetch 100 rows", "count", "group-by aggregate")
NAMES = {
    "get(pk)": "`get(pk)`",
    "fetch 100 rows": "100-row fetch",
    "count": "`count()`",
    "group-by aggregate": "GROUP BY aggregate",
}
SAVES = (0, 100, 1000)
GETS = 200  # cached get(pk)s whose Redis keys are weighed

Times = tuple[float, float]  # (CPU seconds, wall seconds) per operation

# storage mode -> the settings that turn it on (over benchsetup.configure's); "classic" is the default
MODES: dict[str, dict[str, Any]] = {
    "classic": {},
    "insideout": {"CACHEOPS_INSIDEOUT": True},
    "fast mode": {"CACHEOPS": {"testapp.*": {"ops": "all", "timeout": 3600, "local": True}}},
}
MODE_VARIABLE = "CACHEOPS_BENCH_MODE"  # set for a child measuring one mode; it prints JSON last


def _best_of(a: Times | None, b: Times) -> Times:
    return b if a is None else (min(a[0], b[0]), min(a[1], b[1]))


class Bench:
    """Every workload of one Django setup, measured round after round; keeps each one's best."""

    def __init__(self) -> None:
        from django.db.models import Count
        from tests.testapp.models import Post

        from cacheops import invalidate_all
        from cacheops.redis import redis_client

        invalidate_all()
        self.cats, first = populate()
        self.post = Post.objects.nocache().get(pk=first.pk)
        self.redis = redis_client
        self.Post = Post
        self.Count = Count
        self.best: dict[str, Times] = {}
        cats, pk = self.cats, first.pk
        self.workloads: dict[str, Callable[[Any], object]] = {
            "get(pk)": lambda qs: qs.get(pk=pk),
            "fetch 100 rows": lambda qs: list(qs.filter(category=cats[0])),
            "count": lambda qs: qs.filter(rating=3).count(),
            "group-by aggregate": lambda qs: list(qs.values("category_id").annotate(n=Count("id"))),
        }

    def keep(self, name: str, times: Times) -> None:
        self.best[name] = _best_of(self.best.get(name), times)

    def round(self) -> None:
        for name in READS:
            self.reads(name, self.workloads[name])
        self.saves()
        # the floor of any hit that asks Redis: one bare round trip, the way hits go (over the lane)
        from cacheops.redis import get

        self.keep("round trip", best(lambda: get("cacheops-bench:nothing"), 200, REPEAT))
        # and what any GROUP BY read pays before it reaches the cache: Django building the queryset
        Post, Count = self.Post, self.Count
        self.keep(
            "group-by build",
            best(lambda: Post.objects.values("category_id").annotate(n=Count("id")), 200, REPEAT),
        )

    def reads(self, name: str, work: Callable[[Any], object]) -> None:
        from cacheops.memory import local_cache

        Post, redis = self.Post, self.redis
        self.keep(f"{name} none", best(lambda: work(Post.objects.nocache()), 100, REPEAT))
        work(Post.objects.all())
        self.keep(f"{name} hit", best(lambda: work(Post.objects.all()), 100, REPEAT))

        def flush() -> None:
            redis.flushdb()
            local_cache.clear()  # fast mode's results in this process (empty in the other modes)

        def miss() -> None:
            flush()
            work(Post.objects.all())

        # a miss takes about a millisecond: enough of them that the machine's load evens out
        missed, flushed = best(miss, 60, REPEAT), best(flush, 60, REPEAT)
        self.keep(f"{name} miss", (missed[0] - flushed[0], missed[1] - flushed[1]))

    def saves(self) -> None:
        from cacheops import no_invalidation

        post, redis = self.post, self.redis

        def plain_save() -> None:
            with no_invalidation:
                post.save()

        redis.flushdb()
        self.keep("plain save N=0", best(plain_save, 50, REPEAT))
        self.keep("save N=0", best(post.save, 50, REPEAT))
        for n in SAVES[1:]:
            # one save is timed at a time, right after filling N cached queries; the plain save is
            # timed the same way (the first save after the filling costs more than the next ones,
            # with or without invalidation)
            for _ in range({100: 5}.get(n, 3)):
                self.keep(f"plain save N={n}", self.one_save(n, plain_save))
                self.keep(f"save N={n}", self.one_save(n, post.save))

    def one_save(self, n: int, save: Callable[[], object]) -> Times:
        from cacheops.memory import local_cache

        Post, post = self.Post, self.post
        self.redis.flushdb()
        local_cache.clear()
        # n distinct cached queries that the saved row belongs to (one row each)
        for i in range(n):
            list(Post.objects.filter(category=post.category_id, pk=post.pk, rating__gte=-i))
        # filling leaves garbage behind: collect it now, not in the middle of the one timed save
        gc.collect()
        gc.disable()
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            save()
            return time.process_time() - cpu, time.perf_counter() - wall
        finally:
            gc.enable()

    def memory(self) -> tuple[float, float]:
        """(bytes, keys) per cached get(pk): MEMORY USAGE of every key GETS distinct gets leave."""
        redis, Post = self.redis, self.Post
        redis.flushdb()
        pks = list(Post.objects.nocache().order_by("pk").values_list("pk", flat=True)[:GETS])
        for pk in pks:
            Post.objects.get(pk=pk)
        used = sum(redis.memory_usage(k, samples=0) or 0 for k in redis.scan_iter(count=1000))
        return used / len(pks), redis.dbsize() / len(pks)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _us(t: Times) -> str:
    return f"{t[0] * 1e6:.0f} / {t[1] * 1e6:.0f}"


def _ratio(a: Times, c: Times) -> str:
    return f"{a[0] / c[0]:.2f} / {a[1] / c[1]:.2f}"


def print_times(b: dict[str, Times]) -> None:
    print("\nReads: microseconds per operation (best of each), speed ratio none/cached (higher is better)")
    print(f"{'':<22}{'none':>14}{'hit':>14}{'miss+store':>14}{'none/hit':>13}{'none/miss':>13}")
    print(f"{'':<22}" + f"{'cpu / wall':>14}" * 3 + f"{'cpu / wall':>13}" * 2)
    for name in READS:
        none, hit, miss = b[f"{name} none"], b[f"{name} hit"], b[f"{name} miss"]
        times = f"{_us(none):>14}{_us(hit):>14}{_us(miss):>14}"
        print(f"{name:<22}{times}{_ratio(none, hit):>13}{_ratio(none, miss):>13}")
    print("\nsave() with N cached queries depending on the row: microseconds per save, plain (no")
    print("invalidation) and cached, speed ratio plain/cached (higher is better); N>0 timed one save")
    print("at a time, right after the filling, both ways")
    print(f"{'':<22}{'plain':>14}{'cached':>14}{'plain/cached':>14}")
    for n in SAVES:
        plain, saved = b[f"plain save N={n}"], b[f"save N={n}"]
        print(f"{'N=' + str(n):<22}{_us(plain):>14}{_us(saved):>14}{_ratio(plain, saved):>14}")


# (label, uncached measure, cached measure, target: the least speed ratio); None: no target
TARGETS: list[tuple[str, str, str, float | None]] = [
    *((f"hit: {NAMES[name]}", f"{name} none", f"{name} hit", 8.0 if name == "group-by aggregate" else None)
      for name in READS),
    *((f"miss+store: {NAMES[name]}", f"{name} none", f"{name} miss", 0.6) for name in READS),
    *((f"`save()` with {n} dependent queries", f"plain save N={n}", f"save N={n}", {0: 0.7, 1000: 0.6}.get(n))
      for n in SAVES),
]  # fmt: skip
MEMORY_TARGET = 500  # bytes per cached get(pk)


def report(b: dict[str, Times], bytes_per_get: float, keys_per_get: float) -> None:
    from shared_testing.bench import readme_row

    print_times(b)
    trip, group_by, build = b["round trip"], b["group-by aggregate none"], b["group-by build"]
    print(
        f"\nOne bare Redis round trip (a GET of a missing key, as hits go): {_us(trip)} µs; building the"
        f" GROUP BY queryset in Django: {_us(build)} µs (cpu / wall). A GROUP BY hit that asks Redis pays"
        f" both: the plain GROUP BY over their sum is {group_by[1] / (trip[1] + build[1]):.2f} (wall),"
        " the most any such hit could reach; over the round trip alone"
        f" {group_by[1] / trip[1]:.2f}"
    )
    print(f"\nRedis per cached get(pk): {bytes_per_get:.0f} bytes, {keys_per_get:.2f} keys")
    print("\nTargets (issue 18), judged on wall time (CPU time leaves out the server's work)")
    rows = []
    for label, plain, cached, target in TARGETS:
        wall, cpu = b[plain][1] / b[cached][1], b[plain][0] / b[cached][0]
        if target is not None:
            met = verdict(wall >= target)
            print(f"  {label:<40} wall {wall:>6.2f}  (cpu {cpu:>5.2f})  target ≥ {target:<4g} {met}")
        rows.append([label, f"{wall:.2f}", f"{cpu:.2f}", "" if target is None else f"≥ {target:g}"])
    met = verdict(bytes_per_get <= MEMORY_TARGET)
    label = "Redis bytes per cached get(pk)"
    print(f"  {label:<40} {bytes_per_get:>11.0f}{'':<14}target ≤ {MEMORY_TARGET} {met}\n")
    size = f"{bytes_per_get:.0f} ({keys_per_get:.2f} keys)"
    rows.append(["Redis bytes per cached `get(pk)`", size, "", f"≤ {MEMORY_TARGET}"])
    header = ("against no cache, PostgreSQL", "wall", "CPU", "target (wall)")
    for row in rows:
        readme_row(header, row)


def mode_ratios(b: dict[str, Times], bytes_per_get: float) -> dict[str, float]:
    """The wall-time ratio of every target (and the bytes per get), as a mode's child reports them."""
    ratios = {label: b[plain][1] / b[cached][1] for label, plain, cached, _ in TARGETS}
    return {**ratios, "bytes": bytes_per_get}


def measure_mode(mode: str, url: str) -> dict[str, float] | None:
    """Run this script again in a child process measuring ``mode``; its ratios, or None (said why)."""
    env = dict(os.environ, **{MODE_VARIABLE: mode, "TEST_DATABASE_URL_POSTGRESQL": url})
    env.pop("BENCH_README_TABLE", None)  # the child's own rows stay out of the README tables
    proc = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode:
        print(f"  ({mode}: the child failed: {proc.stderr[-400:]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report_modes(ratios: dict[str, dict[str, float]]) -> None:
    """The targets side by side for every storage mode measured."""
    from shared_testing.bench import readme_row

    modes = list(ratios)
    print("\nTargets by storage mode (wall-time ratios; each mode in its own process, one after another)")
    header = ("against no cache, PostgreSQL, by mode", *modes, "target (wall)")
    for label, _, _, target in TARGETS:
        if target is None:
            continue
        cells = [f"{r:.2f}" + ("" if r >= target else " (missed)") for r in (ratios[m][label] for m in modes)]
        readme_row(header, [label, *cells, f"≥ {target:g}"])
    cells = [f"{ratios[m]['bytes']:.0f}" for m in modes]
    readme_row(header, ["Redis bytes per cached `get(pk)`", *cells, f"≤ {MEMORY_TARGET}"])


def main() -> None:
    url, source = postgresql_url()
    if url is None:
        print(f"bench_nocache: no PostgreSQL to measure on ({source}): skipped")
        return
    from shared_testing.servers import get_redis_server

    started = time.perf_counter()
    mode = os.environ.get(MODE_VARIABLE, "classic")
    durable = os.environ.get("CACHEOPS_BENCH_DURABLE") == "1"
    database = postgresql_database(url, durable=durable)
    configure(get_redis_server().url_for_db(12), database=database, **MODES[mode])
    from django.db import connection

    bench = Bench()
    for _ in range(ROUNDS):
        bench.round()
    size, keys = bench.memory()
    if MODE_VARIABLE in os.environ:  # a child: the parent prints
        print(json.dumps(mode_ratios(bench.best, size)))
        return
    version = connection.cursor().connection.info.server_version
    print(
        f"PostgreSQL {version // 10000}.{version % 10000} ({source}), {ROUNDS} rounds, "
        "each workload measured with and without the cache in turn; commits "
        + ("wait for the disk" if durable else "don't wait for the disk (CACHEOPS_BENCH_DURABLE=1: they do)")
    )
    report(bench.best, size, keys)
    ratios = {"classic": mode_ratios(bench.best, size)}
    for other in MODES:
        if other != "classic":
            measured = measure_mode(other, url)
            if measured is not None:
                ratios[other] = measured
    report_modes(ratios)
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
