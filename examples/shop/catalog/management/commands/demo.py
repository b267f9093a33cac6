"""``manage.py demo``: the shop's day, told by the four packages, checked as it goes.

Each step prints what happened and checks what a user would expect; a failed check ends the
run with an error (exit status 1). The story starts from empty databases every time.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import connections
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Order, Product
from catalog.sample import PRODUCTS, STOCK, stock_catalog
from catalog.worker import running_worker, worker_log
from shared_testing.servers import get_redis_server

INDENT = "   "


class Indented:
    """A text stream that indents every line written to it (for a command's own output)."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.at_line_start = True
        self.text = ""  # everything written, for checks

    def write(self, text: str) -> None:
        self.text += text
        for piece in text.splitlines(keepends=True):
            self.out.write(INDENT + piece if self.at_line_start else piece, ending="")
            self.at_line_start = piece.endswith("\n")

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return False


class Story:
    """Prints the narration and counts checks."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.checks = 0

    def chapter(self, title: str) -> None:
        self.out.write(f"\n== {title}\n")

    def say(self, text: str) -> None:
        self.out.write(f"{INDENT}{text}\n")

    def check(self, ok: bool, claim: str) -> None:
        if not ok:
            raise CommandError(f"demo check failed: {claim}")
        self.checks += 1
        self.out.write(f"{INDENT}✓ {claim}\n")


# ------------------------------------------------------------------ counting tools


@dataclass
class Reads:
    """Cache reads (cacheops' ``cache_read`` signal) and SQL queries during one step."""

    hits: int = 0
    misses: int = 0
    queries: int = 0


@contextlib.contextmanager
def counted() -> Iterator[Reads]:
    from cacheops.signals import cache_read

    reads = Reads()

    def on_read(sender: Any, func: Any = None, hit: bool = False, **kwargs: Any) -> None:
        if hit:
            reads.hits += 1
        else:
            reads.misses += 1

    cache_read.connect(on_read, weak=False)
    try:
        with CaptureQueriesContext(connections["default"]) as queries:
            yield reads
    finally:
        cache_read.disconnect(on_read)
    reads.queries = len(queries.captured_queries)


@dataclass
class Written:
    """What a synchronization wrote on the branch, from the Django signals synchro sends there.

    Each list holds ``(model name, str(object))`` pairs.
    """

    added: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)


def _describe(instance: Model) -> tuple[str, str]:
    return type(instance).__name__, str(instance)


def listing(objects: list[tuple[str, str]]) -> str:
    """``categories: Fruit, Dairy; products: Apple (APL)`` from ``(model name, object)`` pairs."""
    by_model: dict[str, list[str]] = {}
    for model, text in objects:
        by_model.setdefault(model, []).append(text)
    return "; ".join(f"{model.lower()}: {', '.join(texts)}" for model, texts in by_model.items()) or "nothing"


@contextlib.contextmanager
def written_on(alias: str) -> Iterator[Written]:
    written = Written()

    def saved(sender: Any, instance: Model, created: bool, using: str, **kwargs: Any) -> None:
        if using == alias and sender._meta.app_label == "catalog":
            (written.added if created else written.changed).append(_describe(instance))

    def deleted(sender: Any, instance: Model, using: str, **kwargs: Any) -> None:
        if using == alias and sender._meta.app_label == "catalog":
            written.deleted.append(_describe(instance))

    post_save.connect(saved, weak=False)
    post_delete.connect(deleted, weak=False)
    try:
        yield written
    finally:
        post_save.disconnect(saved)
        post_delete.disconnect(deleted)


def _command_names(packed: Any) -> list[str]:
    """The commands in what a connection sends, e.g. ``["MULTI", "EVALSHA", "EXEC"]``.

    A command is a RESP array ``*N`` of bulk strings ``$len``; a container command such as
    SCRIPT is named with its subcommand.
    """
    chunks = packed if isinstance(packed, list | tuple) else [packed]
    data = b"".join(c if isinstance(c, bytes) else bytes(c) for c in chunks)
    names, pos = [], 0
    while pos < len(data):
        header, pos = data[pos:].split(b"\r\n", 1)[0], data.index(b"\r\n", pos) + 2
        args = []
        for _ in range(int(header[1:])):
            size = int(data[pos + 1 : data.index(b"\r\n", pos)])
            pos = data.index(b"\r\n", pos) + 2
            args.append(data[pos : pos + size].decode(errors="replace").upper())
            pos += size + 2
        names.append(" ".join(args[:2]) if args[0] in {"SCRIPT", "CLIENT"} else args[0])
    return names


def counting_client(url: str) -> tuple[redis.Redis, list[list[str]]]:
    """A Redis client whose connections record each send (one send is one round trip)."""
    sends: list[list[str]] = []

    class CountingConnection(redis.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sends.append(_command_names(command))
            super().send_packed_command(command, check_health)

    pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    return redis.Redis(connection_pool=pool), sends


def wait_for_log_line(path: Any, pattern: re.Pattern[str], timeout: float = 20) -> re.Match[str] | None:
    """The first match of ``pattern`` in the file, waiting for the writer (the worker) a little."""
    deadline = time.monotonic() + timeout
    while True:
        match = pattern.search(path.read_text(errors="replace"))
        if match or time.monotonic() > deadline:
            return match
        time.sleep(0.2)


# ---------------------------------------------------------------------- the story


class Command(BaseCommand):
    help = "Run the shop's story once (cache, Celery, branch sync, stock ledger) and print a report."

    def handle(self, *args: Any, **options: Any) -> None:
        story = Story(self.stdout)
        self.setup(story)
        self.cacheops(story)
        self.cereal(story)
        self.synchro(story)
        self.schematics(story)
        story.chapter("Done")
        story.say(f"{story.checks} checks passed across the four packages.")

    # ------------------------------------------------------------------ set-up

    def setup(self, story: Story) -> None:
        """Say where everything lives, then empty both databases and Redis and stock the catalog."""
        from cacheops import invalidate_all

        story.chapter("The shop: where its data lives")
        server = get_redis_server()
        if server.started_here:
            story.say(f"{server.describe()};")
            story.say("it keeps nothing on disk and stops when the demo ends")
        else:
            story.say(f"{server.describe()} (the demo empties the databases it uses)")
        story.say("Redis db 0: the cacheops cache, db 1: the Celery broker, db 2: task results,")
        story.say("      db 3: the stock ledger")
        story.say(f"data folder {settings.DATA_DIR}:")
        story.say("  shop.sqlite3 (the shop), branch.sqlite3 (the branch office), worker.log (Celery worker)")
        for alias in ("default", "branch"):
            call_command("migrate", database=alias, verbosity=0)
            call_command("flush", database=alias, interactive=False, verbosity=0)
        invalidate_all()
        stock_catalog()
        story.say(f"both databases emptied and migrated; {len(PRODUCTS)} products in 2 categories stocked")

    # ----------------------------------------------------------- django-cacheops

    def cacheops(self, story: Story) -> None:
        story.chapter("django-cacheops: product pages come from Redis")
        story.say("every cache read is counted by cacheops' cache_read signal, every SQL query by Django")
        steps: list[Reads] = []

        def step(reads: Reads, expected: tuple[int, int, int], claim: str) -> None:
            steps.append(reads)
            story.check((reads.hits, reads.misses, reads.queries) == expected, claim)

        with counted() as chapter:
            with counted() as reads:
                fruit, dairy = Category.objects.get(name="Fruit"), Category.objects.get(name="Dairy")
            step(
                reads,
                (2, 0, 0),
                "the two categories, looked up by name: 2 hits, no query (the catalog set-up just read them)",
            )
            fruit_qs = Product.objects.filter(category=fruit)
            dairy_qs = Product.objects.filter(category=dairy)
            with counted() as reads:
                for qs in (fruit_qs, dairy_qs):
                    list(qs.all())
            step(reads, (0, 2, 2), "first look at both shelves: 2 misses, 2 queries, results stored in Redis")
            with counted() as reads:
                for qs in (fruit_qs, dairy_qs):
                    list(qs.all())
            step(reads, (2, 0, 0), "reading both shelves again: 2 cache hits, no query")

            with counted() as reads:
                apple = Product.objects.get(sku="APL")
            step(reads, (0, 1, 1), "the apple is fetched to be changed: a new query, 1 miss")
            apple.price = Decimal("0.95")
            apple.save()
            story.say("the apple's price changes (0.90 → 0.95); save() drops the cached queries it matches …")
            with counted() as reads:
                list(fruit_qs.all())
            step(reads, (0, 1, 1), "… the fruit shelf is read afresh: 1 miss, 1 query (its cache was gone)")
            with counted() as reads:
                list(dairy_qs.all())
            step(reads, (1, 0, 0), "… the dairy shelf is still served from the cache: 1 hit, no query")

            client = Client()
            with counted() as reads:
                first = client.get("/products/MLK/")
            step(reads, (0, 2, 2), "the milk page, first view: product and category, 2 misses, 2 queries")
            with counted() as reads:
                second = client.get("/products/MLK/")
            step(reads, (2, 0, 0), "the milk page again: the same 2 reads are hits, no query")
            story.check(first.status_code == second.status_code == 200, "both views answered 200")
        hits, misses = sum(r.hits for r in steps), sum(r.misses for r in steps)
        story.check(
            (chapter.hits, chapter.misses) == (hits, misses),
            f"cache reads in this chapter: {chapter.hits} hits, {chapter.misses} misses, each listed above",
        )

    # ------------------------------------------------------------- django-cereal

    def cereal(self, story: Story) -> None:
        from catalog.tasks import confirm_order

        story.chapter("django-cereal: an order travels to a Celery worker as a reference")
        milk = Product.objects.get(sku="MLK")
        with running_worker() as worker:
            story.say(f"a Celery worker is up (pid {worker.pid}, broker: Redis db 1)")
            story.say(f"its log: {worker_log()}")
            order = Order.objects.create(product=milk, quantity=1)
            result = confirm_order.apply_async((order,), countdown=2)
            order.quantity = 3
            order.save()
            story.say("order sent with quantity 1, then changed to 3 before the worker ran …")
            seen = result.get(timeout=60)
            story.check(seen.endswith("3 × MLK"), f"… the task saw the fresh row: {seen!r}")
            order.refresh_from_db()
            story.check(order.status == "confirmed", "the task's own change is in the database")

            gone = Order.objects.create(product=milk, quantity=2)
            result = confirm_order.apply_async((gone,), countdown=2)
            gone_pk = gone.pk
            gone.delete()
            story.say(f"order #{gone_pk} is sent, then deleted before the worker ran …")
            result.get(timeout=60, propagate=False)
            story.check(
                result.state == "FAILURE" and type(result.result).__name__ == "DoesNotExist",
                f"… the task failed visibly: {type(result.result).__name__}",
            )
            line = wait_for_log_line(
                worker_log(), re.compile(rf"ERROR.*\[{re.escape(result.id)}\] raised unexpected: (.*)")
            )
        message = line[1] if line else ""
        story.say(f"the worker's log ({worker_log()}) says:")
        story.say(f"  {message}")
        story.check(
            f"catalog.Order pk={gone_pk}" in message,
            "the message names the model and the primary key that was missing",
        )

    # ------------------------------------------------------------ django-synchro

    def synchro(self, story: Story) -> None:
        from synchro.core import call_synchronize

        story.chapter("django-synchro: the branch office gets the day's changes")
        story.say("manage.py synchronize --batch-size 3 (a progress bar is drawn on a terminal):")
        output = Indented(story.out)
        with written_on("branch") as written:
            call_command("synchronize", "--batch-size", "3", stdout=output)
        branch = Product.objects.using("branch")
        story.check(branch.count() == len(PRODUCTS), f"the branch has all {len(PRODUCTS)} products")
        story.check(
            branch.get(sku="APL").price == Decimal("0.95"),
            "with the apple's new price (found by natural key: sku)",
        )
        story.say(f"added on the branch: {listing(written.added)}")
        story.say(f"changed on the branch: {listing(written.changed)}")
        story.say('(batches of 3 log entries: a "changed" object was created by an earlier batch of the')
        story.say(" same run and logged again later: the apple's new price; order #1's quantity and status)")
        story.say("(order #2, deleted before this sync, never reached the branch: nothing to delete)")
        counts = f"{len(written.added)} added, {len(written.changed)} changed, {len(written.deleted)} deleted"
        apple, order = Product.objects.get(sku="APL"), Order.objects.get()
        story.check(
            counts in output.text
            and Counter(model for model, _ in written.added) == {"Category": 2, "Product": 4, "Order": 1}
            and sorted(text for _, text in written.changed) == sorted([str(apple), str(order)])
            and not written.deleted,
            f"the summary's {counts} are the objects listed: 2 categories, 4 products and order #1 added, "
            "the apple and order #1 changed",
        )

        shop_cheese = Product.objects.get(sku="CHS")
        shop_cheese.price = Decimal("4.75")
        shop_cheese.save()
        branch_cheese = branch.get(sku="CHS")
        branch_cheese.price = Decimal("3.99")
        branch_cheese.save(using="branch")
        story.say("the shop raises the cheese to 4.75, then the branch (later) marks it down to 3.99 …")
        with written_on("branch") as written:
            summary = call_synchronize()
        story.say(f"{summary}; written on the branch: {listing(written.changed + written.added)}")
        story.check(
            len(summary.conflicts) == 1 and branch.get(sku="CHS").price == Decimal("3.99"),
            "… one conflict, resolved by SYNCHRO_CONFLICT='newer_wins': the branch keeps 3.99",
        )
        story.check(
            summary.changed == summary.added == 0 and not (written.changed or written.added),
            "nothing was written on the branch: the shop's older change lost",
        )
        with written_on("branch") as written:
            summary = call_synchronize()
        story.check(
            summary.added == summary.changed == summary.deleted == 0
            and not (written.added or written.changed or written.deleted)
            and branch.count() == len(PRODUCTS),
            f"a re-run adds nothing and writes nothing ({summary})",
        )
        for alias in ("default", "branch"):
            connections[alias].close()

    # ---------------------------------------------------------- redis-schematics

    def schematics(self, story: Story) -> None:
        from schematics.exceptions import DataError

        from catalog.stock import connect, fill, low_stock

        story.chapter("redis-schematics: the stock ledger lives in Redis")
        client, sends = counting_client(settings.STOCK_REDIS_URL)
        StockEntry = connect(client)
        StockEntry.delete_all()
        client.ping()  # the connection is open: what follows is only the ledger's own traffic
        del sends[:]
        written = fill(STOCK)
        writes = [names for names in sends if not names[0].startswith("SCRIPT")]
        story.say(f"{written} ledger entries written in one pipeline; what went over the connection:")
        for number, names in enumerate(sends, 1):
            story.say(f"  round trip {number}: {', '.join(names)}")
        story.check(
            len(writes) == 1 and writes[0][0] == "MULTI" and writes[0][-1] == "EXEC",
            f"all {written} entries travelled in one round trip, one MULTI/EXEC "
            f"({len(writes[0]) - 2 if writes else 0} script call for 8 entries)",
        )
        if len(sends) > len(writes):
            story.say(
                f"  the other {len(sends) - len(writes)} are redis-py making sure the script is loaded "
                "on the server before a pipeline that calls it"
            )
        low = low_stock("north", below=5)
        story.check(
            [(e.sku, e.quantity) for e in low] == [("MLK", 2), ("PER", 3)],
            "indexed filter warehouse='north', quantity < 5: "
            + ", ".join(f"{e.sku} ({e.quantity})" for e in low),
        )
        try:
            StockEntry({"sku": "APL", "warehouse": "east", "quantity": 1}).set()
            refused = ""
        except DataError as exc:  # schematics' validation error names the field
            refused = str(exc)
        story.check("warehouse" in refused, "an entry for an unknown warehouse is refused, naming the field")
        story.check(len(StockEntry.filter(sku="APL")) == 2, "the apple still has exactly two ledger entries")
