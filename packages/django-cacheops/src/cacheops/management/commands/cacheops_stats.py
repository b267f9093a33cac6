"""``manage.py cacheops_stats [label ...] [--reset]``: hits, misses and invalidations per model."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cacheops.conf import settings
from cacheops.counters import reset_stats, stats


class Command(BaseCommand):
    help = "Show cacheops' hit, miss and invalidation counters per model (CACHEOPS_STATS must be on)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("labels", nargs="*", metavar="app.model", help="only these models")
        parser.add_argument("--reset", action="store_true", help="set the counters back to zero")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "CACHEOPS_STATS", False):
            self.stderr.write("CACHEOPS_STATS is off: nothing is being counted")
        if options["reset"]:
            reset_stats()
            self.stdout.write("Counters reset")
            return
        data = stats()
        labels = [label.lower() for label in options["labels"]] or sorted(data)
        width = max([len(label) for label in labels] + [5])
        self.stdout.write(
            f"{'model':<{width}} {'hits':>10} {'misses':>10} {'hit %':>6} {'invalidations':>13}"
        )
        for label in labels:
            row = data.get(label, {"hits": 0, "misses": 0, "invalidations": 0})
            reads = row["hits"] + row["misses"]
            ratio = f"{100 * row['hits'] / reads:.1f}" if reads else "-"
            hits, misses, invalidations = row["hits"], row["misses"], row["invalidations"]
            self.stdout.write(f"{label:<{width}} {hits:>10} {misses:>10} {ratio:>6} {invalidations:>13}")
