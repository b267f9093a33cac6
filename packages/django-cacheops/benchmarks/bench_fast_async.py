"""Benchmark: fast mode against the classic cache hit, native async hits against Django's async path.

* fast mode (``local`` profile option) hit / classic hit, same queryset, same run (target <= 0.3x);
* inside an async function (as in an async view): ``await qs.aget()`` served through redis.asyncio
  against Django's own ``aget`` (``sync_to_async(get)``, a thread hop to the same cached ``get``),
  and against a plain synchronous hit (target <= 0.7x of the thread-hop path).

Times are CPU seconds of this process (all threads) with wall-clock ratios next to them; every
number is a ratio against a baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

sys.path.insert(0, os.getcwd())  # the tests' model zoo lives in tests/testapp

CLASSIC = {"testapp.*": {"ops": "all", "timeout": 3600}}
FAST = {"testapp.*": {"ops": "all", "timeout": 3600, "local": True}}


def configure(redis_url: str) -> None:
    import django
    from django.conf import settings

    db = os.path.join(tempfile.mkdtemp(prefix="cacheops-bench-fast-"), "bench.sqlite3")
    settings.configure(
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "cacheops", "tests.testapp"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        CACHEOPS_REDIS=redis_url,
        CACHEOPS=CLASSIC,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def best(func: Callable[[], object], number: int, repeat: int = 3) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call: the best of ``repeat`` runs of ``number`` calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(number):
            func()
        cpu.append((time.process_time() - c) / number)
        wall.append((time.perf_counter() - w) / number)
    return min(cpu), min(wall)


async def abest(func: Callable[[], Awaitable[object]], number: int, repeat: int = 3) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(number):
            await func()
        cpu.append((time.process_time() - c) / number)
        wall.append((time.perf_counter() - w) / number)
    return min(cpu), min(wall)


def ratio(a: tuple[float, float], b: tuple[float, float]) -> str:
    return f"{a[0] / b[0]:>6.2f}x cpu {a[1] / b[1]:>6.2f}x wall"


def main() -> None:
    from shared_testing.servers import get_redis_server

    configure(get_redis_server().url_for_db(12))
    from django.test.utils import override_settings
    from tests.testapp.models import Category, Post

    from cacheops import invalidate_all
    from cacheops.aio import _original as django_async
    from cacheops.aio import aclose

    invalidate_all()
    cats = [Category.objects.create(title=f"c{i}") for i in range(10)]
    Post.objects.bulk_create(Post(title=f"p{i}", category=cats[i % 10], rating=i % 7) for i in range(1000))
    pk = Post.objects.nocache().order_by("pk").first().pk
    workloads: dict[str, Callable[[], object]] = {
        "get(pk)": lambda: Post.objects.get(pk=pk),
        "fetch 100 rows": lambda: list(Post.objects.filter(category=cats[0])),
        "count": lambda: Post.objects.filter(rating=3).count(),
    }

    print("Fast mode hit against the classic hit (lower is better; target <= 0.30x)")
    for name, work in workloads.items():
        work()
        classic = best(work, 100)
        with override_settings(CACHEOPS=FAST):
            work()
            work()
            fast = best(work, 100)
        print(f"  {name:<16} fast/classic {ratio(fast, classic)}")

    async def async_view() -> dict[str, tuple[float, float]]:
        try:
            Post.objects.get(pk=pk)  # stored by the synchronous path
            await Post.objects.aget(pk=pk)
            return {
                "native": await abest(lambda: Post.objects.aget(pk=pk), 150),
                "thread hop": await abest(lambda: django_async["aget"](Post.objects.all(), pk=pk), 150),
            }
        finally:
            await aclose()

    times = asyncio.run(async_view())
    sync_hit = best(lambda: Post.objects.get(pk=pk), 150)
    print("\nInside an async function: a cached get(pk) hit (lower is better; target <= 0.70x)")
    print(f"  native aget / Django's aget (sync_to_async hop) {ratio(times['native'], times['thread hop'])}")
    print(f"  native aget / synchronous get in sync code       {ratio(times['native'], sync_hit)}")

    with override_settings(CACHEOPS=FAST):

        async def fast_async() -> tuple[float, float]:
            try:
                await Post.objects.aget(pk=pk)
                await Post.objects.aget(pk=pk)
                return await abest(lambda: Post.objects.aget(pk=pk), 150)
            finally:
                await aclose()

        fast_native = asyncio.run(fast_async())
    print(f"  fast-mode aget / Django's aget                   {ratio(fast_native, times['thread hop'])}")


if __name__ == "__main__":
    main()
