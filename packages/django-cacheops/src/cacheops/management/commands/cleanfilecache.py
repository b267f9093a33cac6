"""``manage.py cleanfilecache [path ...]``: remove expired entries of the file cache."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cacheops.file_cache import FileCache, default


class Command(BaseCommand):
    help = "Remove expired entries from the file cache (FILE_CACHE_DIR, or the directories given)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "paths", nargs="*", metavar="path", help="cache directories (default FILE_CACHE_DIR)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        caches = [FileCache(p) for p in options["paths"]] or [default]
        verbosity = options["verbosity"]
        for cache in caches:

            def progress(seen: int, removed: int) -> None:
                if verbosity >= 1:
                    self.stdout.write(f"  {seen} files checked, {removed} removed so far")

            if verbosity >= 1:
                self.stdout.write(f"Cleaning {cache.path}")
            removed = cache.clean(progress)
            if verbosity >= 1:
                self.stdout.write(f"Removed {removed} expired file(s) from {cache.path}")
