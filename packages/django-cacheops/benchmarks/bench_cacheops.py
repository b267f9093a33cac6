"""Benchmark: cacheops hits, misses and save() against plain database queries.

The same workload runs with no cache and with this package, and (when a Python with the original
django-cacheops 7.2 is available) with the original and with this package side by side in that
interpreter. Every number is a ratio against a baseline measured in the same run.

Environment: ``CACHEOPS_ORIGINAL_PYTHON`` names the interpreter that has django-cacheops 7.2
installed; else ``/tmp/cacheops-original-venv`` is used when it exists (see the README).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

PACKAGE_DIR = os.getcwd()
sys.path.insert(0, PACKAGE_DIR)  # the tests' model zoo lives in tests/testapp


def configure(redis_url: str) -> None:
    import django
    from django.conf import settings

    db = os.path.join(tempfile.mkdtemp(prefix="cacheops-bench-"), "bench.sqlite3")
    settings.configure(
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cacheops", "tests.testapp"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        CACHEOPS_REDIS=redis_url,
        CACHEOPS={"testapp.*": {"ops": "all", "timeout": 3600}},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# CPU seconds of this process: the machine running the benchmarks is shared, and wall-clock
# time swings with the other load far more than with the code measured.
clock = time.process_time


def best(func: Callable[[], object], number: int, repeat: int = 3) -> float:
    """CPU seconds per call: the best of ``repeat`` runs of ``number`` calls."""
    times = []
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            func()
        times.append((clock() - start) / number)
    return min(times)


def measure(redis_url: str) -> dict[str, Any]:
    """Run every workload; seconds per operation, bytes and keys per entry."""
    configure(redis_url)
    from django.db.models import Count
    from tests.testapp.models import Category, Post

    from cacheops import invalidate_all, no_invalidation
    from cacheops.redis import redis_client

    invalidate_all()
    cats = [Category.objects.create(title=f"c{i}") for i in range(10)]
    Post.objects.bulk_create(Post(title=f"p{i}", category=cats[i % 10], rating=i % 7) for i in range(1000))
    first = Post.objects.nocache().order_by("pk").first()
    out: dict[str, Any] = {}

    workloads: dict[str, Callable[[Any], object]] = {
        "get(pk)": lambda qs: qs.get(pk=first.pk),
        "fetch 100 rows": lambda qs: list(qs.filter(category=cats[0])),
        "count": lambda qs: qs.filter(rating=3).count(),
        "group-by aggregate": lambda qs: list(qs.values("category_id").annotate(n=Count("id"))),
    }

    def run(name: str, work: Callable[[Any], object]) -> None:
        none = best(lambda: work(Post.objects.nocache()), 50)
        work(Post.objects.all())
        hit = best(lambda: work(Post.objects.all()), 50)

        def miss() -> None:
            redis_client.flushdb()
            work(Post.objects.all())

        missed = best(miss, 30) - best(redis_client.flushdb, 30)
        out[name] = {"none": none, "hit": hit, "miss": missed}

    for name, work in workloads.items():
        run(name, work)

    post = Post.objects.nocache().get(pk=first.pk)

    def plain_save() -> None:
        with no_invalidation:
            post.save()

    redis_client.flushdb()
    out["plain save"] = best(plain_save, 50)

    def save_with(n: int) -> float:
        def once() -> float:
            redis_client.flushdb()
            for i in range(n):  # n distinct cached queries that the saved row belongs to
                list(Post.objects.filter(category=post.category_id, rating__gte=-i))
            start = clock()
            post.save()
            return clock() - start

        return min(once() for _ in range(1 if n > 100 else 3))

    for n in (0, 100, 1000):
        out[f"save N={n}"] = save_with(n)

    redis_client.flushdb()
    for i in range(200):  # 200 cached queries of about 14 rows each
        list(Post.objects.filter(category=cats[1], rating=i % 7, id__gte=-i))
    # MEMORY USAGE of every key: exact, unlike used_memory, which moves with the allocator
    used = sum(redis_client.memory_usage(k, samples=0) or 0 for k in redis_client.scan_iter(count=1000))
    out["bytes per entry"] = used / 200
    out["keys per entry"] = redis_client.dbsize() / 200

    list(Post.objects.filter(category=cats[2]))
    Post.objects.nocache().filter(category=cats[1]).first().save()
    with_queries = _count_queries(lambda: list(Post.objects.filter(category=cats[2])))
    out["unrelated survives save"] = with_queries == 0
    return out


def _count_queries(func: Callable[[], object]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


def _child(python: str, redis_url: str, ours: bool) -> dict[str, Any] | None:
    env = dict(os.environ, CACHEOPS_BENCH_CHILD=redis_url)
    if ours:
        env["PYTHONPATH"] = os.path.join(PACKAGE_DIR, "src")
    proc = subprocess.run([python, __file__], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        print(f"  ({'this package' if ours else 'original'} in {python} failed: {proc.stderr[-300:]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(mine: dict[str, Any], orig: dict[str, Any] | None, mine_there: dict[str, Any] | None) -> None:
    print("Reads: seconds per operation as ratios (lower is better)")
    print(f"{'workload':<20}{'hit/none':>10}{'miss+store/none':>17}", end="")
    print(f"{'hit: ours/7.2':>15}{'miss: ours/7.2':>16}" if orig and mine_there else "")
    for name in ("get(pk)", "fetch 100 rows", "count", "group-by aggregate"):
        row = mine[name]
        print(f"{name:<20}{row['hit'] / row['none']:>10.2f}{row['miss'] / row['none']:>17.2f}", end="")
        if orig and mine_there:
            hit = mine_there[name]["hit"] / orig[name]["hit"]
            miss = mine_there[name]["miss"] / orig[name]["miss"]
            print(f"{hit:>15.2f}{miss:>16.2f}")
        else:
            print()
    print("\nsave() with N cached queries depending on the row, against a save without invalidation")
    for n in (0, 100, 1000):
        key = f"save N={n}"
        line = f"  N={n:<5} ours {mine[key] / mine['plain save']:.2f}x plain save"
        if orig and mine_there:
            line += f", ours/7.2 = {mine_there[key] / orig[key]:.2f}"
        print(line)
    print(
        f"\nRedis per cached query: ours {mine['bytes per entry']:.0f} bytes, "
        f"{mine['keys per entry']:.2f} keys",
        end="",
    )
    if orig and mine_there:
        print(f"; 7.2 {orig['bytes per entry']:.0f} bytes, {orig['keys per entry']:.2f} keys", end="")
        print(f"; memory ours/7.2 = {mine_there['bytes per entry'] / orig['bytes per entry']:.2f}")
    else:
        print()
    print(f"granularity: an unrelated cached query survives a save: {mine['unrelated survives save']}")


def main() -> None:
    child_redis = os.environ.get("CACHEOPS_BENCH_CHILD")
    if child_redis:
        print(json.dumps(measure(child_redis)))
        return
    from shared_testing.servers import get_redis_server

    server = get_redis_server()
    mine = measure(server.url_for_db(9))
    python = os.environ.get("CACHEOPS_ORIGINAL_PYTHON") or "/tmp/cacheops-original-venv/bin/python"
    orig = mine_there = None
    if os.path.exists(python):
        orig = _child(python, server.url_for_db(10), ours=False)
        mine_there = _child(python, server.url_for_db(11), ours=True)
        if orig and mine_there:
            print(f"(side by side with django-cacheops 7.2 in {python})\n")
    else:
        print(f"(no original django-cacheops 7.2 at {python}: comparison skipped)\n")
    report(mine, orig, mine_there)


if __name__ == "__main__":
    main()
