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


def postgresql_url() -> tuple[str | None, str]:
    """``(server URL, where it comes from)`` of the PostgreSQL to measure on:
    ``TEST_DATABASE_URL_POSTGRESQL``, else a throw-away cluster started as the test sessions start
    theirs (stopped when the process exits); ``(None, why not)`` when there is none or no psycopg."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed"
    url = os.environ.get("TEST_DATABASE_URL_POSTGRESQL")
    if url:
        return url, "TEST_DATABASE_URL_POSTGRESQL"
    from shared_testing.servers import get_postgresql

    try:
        return get_postgresql().url, "a throw-away cluster"
    except RuntimeError as exc:
        return None, str(exc).splitlines()[0]


def postgresql_database(server_url: str, durable: bool = False) -> dict[str, Any]:
    """A fresh database on the server (dropped when the process exits), as a ``DATABASES`` entry.

    Unless ``durable``, its connections commit without waiting for the WAL to reach the disk
    (``synchronous_commit=off``): on a shared machine that flush takes from a tenth of a
    millisecond to several, with whatever else writes to the disk, and would drown what a
    benchmark of writes measures (and it makes a plain write cheaper, the stricter baseline)."""
    import atexit
    from urllib.parse import unquote, urlsplit

    import psycopg

    name = f"cacheops_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    atexit.register(drop)
    parts = urlsplit(server_url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": {} if durable else {"options": "-c synchronous_commit=off"},
    }


def configure(redis_url: str, database: dict[str, Any] | None = None, **extra: Any) -> None:
    """Configure Django (``database``, by default a fresh SQLite file; every testapp model cached
    for an hour) and migrate; ``extra`` settings are added or override."""
    import django
    from django.conf import settings

    if database is None:
        db = os.path.join(tempfile.mkdtemp(prefix="cacheops-bench-"), "bench.sqlite3")
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": db}
    options: dict[str, Any] = {
        "SECRET_KEY": "bench",
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "cacheops", "tests.testapp"],
        "DATABASES": {"default": database},
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

    On SQLite CPU time of this process is what the targets use: the machine running the benchmarks
    is shared, and its wall clock swings with the other load far more than with the code measured.
    Against a database server, CPU time of this process leaves out the server's work: there wall
    time is what the user waits for (bench_nocache.py)."""
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(number):
            func()
        cpu.append((time.process_time() - c) / number)
        wall.append((time.perf_counter() - w) / number)
    return min(cpu), min(wall)
