"""What the cacheops benchmarks share: Django set up on the tests' models, the data they read, and
timing by the best of several runs.  Not a benchmark itself (nox runs ``bench_*.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

PACKAGE_DIR = os.getcwd()  # the nox session and the README run the benchmarks from the package
sys.path.insert(0, PACKAGE_DIR)  # the tests' model zoo lives in tests/testapp


def run_child(script: str, python: str, redis_url: str, ours: bool, timeout: int) -> dict[str, Any] | None:
    """Run ``script`` again in ``python`` as a child measuring on ``redis_url`` (it reads
    ``CACHEOPS_BENCH_CHILD``), with this package's ``src`` first on its path when ``ours``; its
    last line of output is the JSON it measured. None (and the child's error printed) on failure."""
    env = dict(os.environ, CACHEOPS_BENCH_CHILD=redis_url)
    if ours:
        env["PYTHONPATH"] = os.path.join(PACKAGE_DIR, "src")
    proc = subprocess.run([python, script], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        print(f"  ({'this package' if ours else 'original'} in {python} failed: {proc.stderr[-300:]})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def configure(redis_url: str, **extra: Any) -> None:
    """Configure Django (a fresh SQLite file, every testapp model cached for an hour) and migrate;
    ``extra`` settings are added or override."""
    import django
    from django.conf import settings

    db = os.path.join(tempfile.mkdtemp(prefix="cacheops-bench-"), "bench.sqlite3")
    options: dict[str, Any] = {
        "SECRET_KEY": "bench",
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "cacheops", "tests.testapp"],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
        "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
        "USE_TZ": True,
        "CACHEOPS_REDIS": redis_url,
        "CACHEOPS": {"testapp.*": {"ops": "all", "timeout": 3600}},
    }
    options.update(extra)
    settings.configure(**options)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate() -> tuple[list[Any], Any]:
    """10 categories and 1000 posts (100 per category, ratings 0-6); returns (categories, first post)."""
    from tests.testapp.models import Category, Post

    cats = [Category.objects.create(title=f"c{i}") for i in range(10)]
    Post.objects.bulk_create(Post(title=f"p{i}", category=cats[i % 10], rating=i % 7) for i in range(1000))
    return cats, Post.objects.nocache().order_by("pk").first()


def best(func: Callable[[], object], number: int, repeat: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call: the best of ``repeat`` runs of ``number`` calls.

    CPU time of this process is what the targets use: the machine running the benchmarks is
    shared, and its wall clock swings with the other load far more than with the code measured."""
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(number):
            func()
        cpu.append((time.process_time() - c) / number)
        wall.append((time.perf_counter() - w) / number)
    return min(cpu), min(wall)
