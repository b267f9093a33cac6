"""``manage.py demo``: the shop's day, told by the four packages, checked as it goes.

Each step prints what happened and checks what a user would expect; a failed check ends the
run with an error (exit status 1). The story starts from empty databases every time.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.test import Client

from catalog.models import Category, Order, Product
from catalog.sample import PRODUCTS, stock_catalog
from catalog.worker import running_worker


class Story:
    """Prints the narration and counts checks."""

    def __init__(self, out) -> None:
        self.out = out
        self.checks = 0

    def chapter(self, title: str) -> None:
        self.out.write(f"\n== {title}\n")

    def say(self, text: str) -> None:
        self.out.write(f"   {text}\n")

    def check(self, ok: bool, claim: str) -> None:
        if not ok:
            raise CommandError(f"demo check failed: {claim}")
        self.checks += 1
        self.out.write(f"   ✓ {claim}\n")


class Command(BaseCommand):
    help = "Run the shop's story once (cache, Celery, branch sync, stock ledger) and print a report."

    def handle(self, *args, **options) -> None:
        story = Story(self.stdout)
        self.reset()
        self.cacheops(story)
        self.cereal(story)
        self.synchro(story)
        self.schematics(story)
        story.chapter("Done")
        story.say(f"{story.checks} checks passed across the four packages.")

    # ------------------------------------------------------------------ set-up

    def reset(self) -> None:
        """Empty both databases and the shop's Redis data, then stock the catalog."""
        from cacheops import invalidate_all

        for alias in ("default", "branch"):
            call_command("migrate", database=alias, verbosity=0)
            call_command("flush", database=alias, interactive=False, verbosity=0)
        invalidate_all()
        stock_catalog()

    # ----------------------------------------------------------- django-cacheops

    def cacheops(self, story: Story) -> None:
        from cacheops.signals import cache_read

        story.chapter("django-cacheops: product pages come from Redis")
        reads: Counter[str] = Counter()

        def count(sender, func=None, hit=False, **kwargs) -> None:
            reads["hit" if hit else "miss"] += 1

        cache_read.connect(count)
        try:
            fruit, dairy = Category.objects.get(name="Fruit"), Category.objects.get(name="Dairy")
            fruit_qs = Product.objects.filter(category=fruit)
            dairy_qs = Product.objects.filter(category=dairy)
            for qs in (fruit_qs, dairy_qs):
                list(qs.all())  # first read: from the database, stored in Redis
            before = Counter(reads)
            for qs in (fruit_qs, dairy_qs):
                list(qs.all())
            story.check(
                reads["hit"] - before["hit"] == 2, "reading both shelves again: 2 cache hits, no query"
            )

            apple = Product.objects.get(sku="APL")
            apple.price = Decimal("0.95")
            apple.save()
            story.say("the apple's price changes (0.90 → 0.95) …")
            before = Counter(reads)
            list(fruit_qs.all())
            story.check(
                reads["miss"] - before["miss"] == 1,
                "… the fruit shelf is read afresh (its cache was dropped)",
            )
            before = Counter(reads)
            list(dairy_qs.all())
            story.check(reads["hit"] - before["hit"] == 1, "… the dairy shelf is still served from the cache")

            client = Client()
            first = client.get("/products/MLK/")
            before = Counter(reads)
            second = client.get("/products/MLK/")
            story.check(
                first.status_code == second.status_code == 200 and reads["hit"] > before["hit"],
                "the milk page is served twice; the second time its query is a cache hit",
            )
        finally:
            cache_read.disconnect(count)
        story.say(f"cache reads in this chapter: {reads['hit']} hits, {reads['miss']} misses")

    # ------------------------------------------------------------- django-cereal

    def cereal(self, story: Story) -> None:
        from catalog.tasks import confirm_order

        story.chapter("django-cereal: an order travels to a Celery worker as a reference")
        milk = Product.objects.get(sku="MLK")
        with running_worker() as worker:
            story.say(f"a Celery worker is up (pid {worker.pid}, broker: the shop's Redis; log: worker.log)")
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

    # ------------------------------------------------------------ django-synchro

    def synchro(self, story: Story) -> None:
        from synchro.core import call_synchronize

        story.chapter("django-synchro: the branch office gets the day's changes")
        story.say("manage.py synchronize --batch-size 3 (a progress bar is drawn on a terminal):")
        call_command("synchronize", "--batch-size", "3", stdout=story.out)
        branch = Product.objects.using("branch")
        story.check(branch.count() == len(PRODUCTS), f"the branch has all {len(PRODUCTS)} products")
        story.check(
            branch.get(sku="APL").price == Decimal("0.95"),
            "with the apple's new price (found by natural key: sku)",
        )

        shop_cheese = Product.objects.get(sku="CHS")
        shop_cheese.price = Decimal("4.75")
        shop_cheese.save()
        branch_cheese = branch.get(sku="CHS")
        branch_cheese.price = Decimal("3.99")
        branch_cheese.save(using="branch")
        story.say("the shop raises the cheese to 4.75, then the branch (later) marks it down to 3.99 …")
        summary = call_synchronize()
        story.check(
            len(summary.conflicts) == 1 and branch.get(sku="CHS").price == Decimal("3.99"),
            "… one conflict, resolved by SYNCHRO_CONFLICT='newer_wins': the branch keeps 3.99",
        )
        summary = call_synchronize()
        story.check(
            summary.added == summary.changed == summary.deleted == 0 and branch.count() == len(PRODUCTS),
            f"a re-run adds nothing ({summary})",
        )
        for alias in ("default", "branch"):
            connections[alias].close()

    # ---------------------------------------------------------- redis-schematics

    def schematics(self, story: Story) -> None:
        from schematics.exceptions import DataError

        from catalog.stock import connect, low_stock

        story.chapter("redis-schematics: the stock ledger lives in Redis")
        StockEntry = connect()
        StockEntry.delete_all()
        counts = {
            ("APL", "north"): 40, ("PER", "north"): 3, ("MLK", "north"): 2, ("CHS", "north"): 12,
            ("APL", "south"): 1, ("PER", "south"): 25, ("MLK", "south"): 30, ("CHS", "south"): 4,
        }  # fmt: skip
        with StockEntry.pipeline() as pipe:
            for (sku, warehouse), quantity in counts.items():
                StockEntry({"sku": sku, "warehouse": warehouse, "quantity": quantity}).set(pipeline=pipe)
        story.say(f"{len(counts)} ledger entries written in one round trip")
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
