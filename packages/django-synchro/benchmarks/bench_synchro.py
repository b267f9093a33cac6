"""Benchmarks: logging overhead per save and synchronization throughput (SQLite files).

Times are CPU seconds of this process (``time.process_time``), so other work on a busy
machine does not distort the ratios; the autocommit case waits on the disk and is wall time.
Prints figures and ratios against baselines measured in the same run:
* save() of a watched model vs a plain save (inside one transaction, and in autocommit);
* the same ratio once the log holds 100,000 entries (it should stay flat);
* initial sync of 10,000 changed books with an FK and an m2m, in rows/s;
* queries per batch for batch sizes 100 and 1,000 (should not grow with the batch);
* a re-sync, which must add 0 rows.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django
from django.conf import settings

TMP = tempfile.mkdtemp(prefix="synchro-bench-")
settings.configure(
    DEBUG=False,
    USE_TZ=True,
    SECRET_KEY="bench",
    DATABASES={
        alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(TMP, f"{alias}.sqlite3")}
        for alias in ("default", "remote")
    },
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "dbsettings",
        "synchro",
        "benchapp",
    ],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    SYNCHRO_REMOTE="remote",
    SYNCHRO_MODELS=[("benchapp", "Watched", "Author", "Tag", "Book")],
)
django.setup()

from benchapp.models import Author, Book, Plain, Tag, Watched  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from synchro import DisableSynchroLog, call_synchronize, log_changes  # noqa: E402
from synchro.models import ChangeLog  # noqa: E402

for alias in ("default", "remote"):
    call_command("migrate", database=alias, run_syncdb=True, verbosity=0)


def timed_saves(model, n: int, atomic: bool) -> float:
    objs = [model(name=f"n{i}") for i in range(n)]
    clock = time.process_time if atomic else time.perf_counter
    start = clock()
    if atomic:
        with transaction.atomic():
            for obj in objs:
                obj.save()
            for obj in objs:
                obj.number = 1
                obj.save()
    else:
        for obj in objs:
            obj.save()
    return clock() - start


def interleaved(n: int, atomic: bool, repeat: int = 5) -> tuple[float, float]:
    """Best times of plain and watched saves, run alternately so machine load hits both alike."""
    plain, watched = [], []
    for _ in range(repeat):
        plain.append(timed_saves(Plain, n, atomic))
        watched.append(timed_saves(Watched, n, atomic))
    return min(plain), min(watched)


def save_overhead(label: str) -> float:
    n = 1000
    plain, watched = interleaved(n, atomic=True)
    ratio = watched / plain
    print(
        f"save() in a transaction, {label}: plain {plain / (2 * n) * 1e6:.1f} us, "
        f"watched {watched / (2 * n) * 1e6:.1f} us, ratio {ratio:.2f}x"
    )
    return ratio


print(f"django-synchro benchmark (SQLite files in {TMP})")
empty_ratio = save_overhead("empty log")


def autocommit_saves(n: int) -> tuple[float, float]:
    """Median wall time of one plain and one watched save in autocommit, saved alternately.

    Each save waits on a commit (a disk sync), and the disk is shared with whatever else
    the machine does; alternating single saves exposes both models to the same load.
    """
    plain, watched = [], []
    for i in range(n):
        for model, times in ((Plain, plain), (Watched, watched)):
            obj = model(name=f"auto{i}")
            start = time.perf_counter()
            obj.save()
            times.append(time.perf_counter() - start)
    return statistics.median(plain), statistics.median(watched)


plain_auto, watched_auto = autocommit_saves(300)
print(
    f"save() in autocommit (median of 300 alternating saves): plain {plain_auto * 1e6:.1f} us, "
    f"watched {watched_auto * 1e6:.1f} us, ratio {watched_auto / plain_auto:.2f}x"
)

# Grow the log to 100k entries and measure again.
missing = 100_000 - ChangeLog.objects.count()
ChangeLog.objects.bulk_create(
    [ChangeLog(model="benchapp.watched", object_id=str(i), action=2) for i in range(missing)], batch_size=5000
)
full_ratio = save_overhead(f"{ChangeLog.objects.count():,} log entries")
print(f"overhead growth from empty to 100k logs: {full_ratio / empty_ratio:.2f}x")

# Initial sync: 10,000 books with an FK and an m2m.
ChangeLog.objects.all().delete()
with DisableSynchroLog():
    Watched.objects.all().delete()
with transaction.atomic(), DisableSynchroLog():  # build fast, then log every row as added
    tags = Tag.objects.bulk_create([Tag(name=f"t{i}") for i in range(20)])
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(1000)])
    books = Book.objects.bulk_create([Book(title=f"b{i}", author=authors[i % 1000]) for i in range(10_000)])
    Book.tags.through.objects.bulk_create(
        [Book.tags.through(book=b, tag=tags[(i + k) % 20]) for i, b in enumerate(books) for k in (0, 7)]
    )
for model, objs in ((Tag, tags), (Author, authors), (Book, books)):
    log_changes(model, [o.pk for o in objs], "addition")
rows = Tag.objects.count() + Author.objects.count() + Book.objects.count()
logs = ChangeLog.objects.count()
start, wall = time.process_time(), time.perf_counter()
summary = call_synchronize(batch_size=1000)
elapsed, wall = time.process_time() - start, time.perf_counter() - wall
assert Book.objects.using("remote").count() == 10_000, summary
print(
    f"initial sync: {summary.added:,} objects ({logs:,} log entries, "
    f"{Book.tags.through.objects.using('remote').count():,} m2m rows) "
    f"in {elapsed:.2f} s CPU ({wall:.2f} s wall) = "
    f"{rows / elapsed:,.0f} rows/s (original django-synchro: ~175 rows/s)"
)

start = time.perf_counter()
again = call_synchronize()
print(f"re-sync: {again.added} rows added, {again.changed} changed in {time.perf_counter() - start:.3f} s")


def queries_per_batch(batch_size: int) -> float:
    log_changes(Book, Book.objects.values_list("pk", flat=True)[: batch_size * 2], "change")
    with (
        CaptureQueriesContext(connections["default"]) as local,
        CaptureQueriesContext(connections["remote"]) as remote,
    ):
        result = call_synchronize(batch_size=batch_size)
    return (len(local) + len(remote)) / result.batches


small, large = queries_per_batch(100), queries_per_batch(1000)
print(f"queries per batch: {small:.0f} at batch size 100, {large:.0f} at 1000 (ratio {large / small:.2f}x)")

# The README's table (Performance), with this run's figures.
from shared_testing.bench import readme_row  # noqa: E402

TABLE = ("Measure", "Result")
readme_row(TABLE, ["`save()` of a watched model vs a plain save, in a transaction", f"{empty_ratio:.2f}×"])
readme_row(
    TABLE,
    [
        "the same with 100,000 log entries",
        f"{full_ratio:.2f}× (flat: {full_ratio / empty_ratio:.2f}× the empty-log overhead)",
    ],
)
readme_row(
    TABLE,
    [
        "the same in autocommit mode (median of 300 alternating saves, wall time)",
        f"{watched_auto / plain_auto:.2f}×",
    ],
)
readme_row(
    TABLE,
    [
        f"initial sync, 10,000 books with an FK and two m2m rows each ({rows:,} objects)",
        f"{rows / elapsed:,.0f} rows/s (version 0.5: about 175)",
    ],
)
readme_row(TABLE, ["queries per batch at batch size 100 / 1,000", f"{small:.0f} / {large:.0f}"])
readme_row(TABLE, ["re-sync", f"{again.added} rows added, {again.changed} changed"])
