"""``manage.py reapconjs [--chunk-size N] [--min-conj-set-size N] [--dry-run]``.

In classic (not insideout) mode a conjunction set lists the cache keys that depend on one
condition; when a key expires on its own its name stays in the set until the set itself expires.
This command walks the conjunction sets with SCAN (never KEYS) and removes the names of keys that
no longer exist, so long-lived sets don't grow without bound.  Each chunk is checked and cleaned
by one Lua script, so a key cached again meanwhile is never unlinked from its set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cacheops.keys import get_prefix
from cacheops.redis import get_client, is_cluster, register

# KEYS[1]: a conjunction set; ARGV[1]: "1" for a dry run; ARGV[2..]: members to check.
# Returns the number of members whose cache key is gone (removed unless dry run).
_REAP = """
local dead = 0
for i = 2, #ARGV do
    if redis.call('exists', ARGV[i]) == 0 then
        dead = dead + 1
        if ARGV[1] ~= '1' then
            redis.call('srem', KEYS[1], ARGV[i])
        end
    end
end
if ARGV[1] ~= '1' and redis.call('scard', KEYS[1]) == 0 then
    redis.call('del', KEYS[1])
end
return dead
"""


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


@dataclass
class ReapResult:
    """What a reaping pass saw and did."""

    scanned_keys: int = 0
    conj_sets: int = 0
    checked_sets: int = 0
    dead_members: int = 0


def reap_conjs(
    chunk_size: int = 1000,
    min_conj_set_size: int = 1000,
    using: str | None = None,
    dry_run: bool = False,
    progress: Callable[[ReapResult], None] | None = None,
) -> ReapResult:
    """Remove the names of vanished cache keys from conjunction sets of at least
    ``min_conj_set_size`` members, ``chunk_size`` keys or members at a time.

    ``using``: only the sets under the ``CACHEOPS_PREFIX`` of that database (every set when None).
    With ``dry_run`` nothing is changed; the result still counts the dead members.
    ``progress(result)`` is called after every chunk of scanned keys.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    if min_conj_set_size < 0:
        raise ValueError(f"min_conj_set_size must not be negative, not {min_conj_set_size}")
    client = get_client()
    script = register(_REAP, client)
    flag = "1" if dry_run else "0"
    result = ReapResult()
    # scan_iter walks every primary of a Redis Cluster (one server otherwise)
    found = client.scan_iter(match=_pattern(using), count=chunk_size)
    while True:
        keys = list(islice(found, chunk_size))
        result.scanned_keys += len(keys)
        for key, size in _conj_set_sizes(client, keys):
            result.conj_sets += 1
            if size >= min_conj_set_size:
                result.checked_sets += 1
                result.dead_members += _reap_set(client, script, key, flag, chunk_size)
        if progress is not None:
            progress(result)
        if len(keys) < chunk_size:
            return result


def _pattern(using: str | None) -> str:
    """The SCAN pattern of the conjunction keys of ``using`` (of every database when None)."""
    if using is None:
        return "*conj:*"
    # behind the shards' hash tags on a cluster
    return ("{cacheops:*}" if is_cluster() else "") + _glob_escape(get_prefix(dbs=[using])) + "conj:*"


def _conj_set_sizes(client: Any, keys: list[Any]) -> list[tuple[Any, int]]:
    """``(key, members)`` of each of ``keys`` that is a set (insideout stamps are strings and
    hold no key names), in two pipelined round trips."""
    if not keys:
        return []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    sets = [k for k, kind in zip(keys, pipe.execute()) if kind in (b"set", "set")]
    for key in sets:
        pipe.scard(key)
    return list(zip(sets, pipe.execute()))


def _reap_set(client: Any, script: Any, key: Any, flag: str, chunk_size: int) -> int:
    """Check (and unless ``flag`` is "1", remove) the dead members of one set, ``chunk_size``
    members per script run; the number of dead members."""
    dead = 0
    cursor = 0
    while True:
        cursor, members = client.sscan(key, cursor=cursor, count=chunk_size)
        if members:
            dead += script(keys=[key], args=[flag, *members])
        if cursor == 0:
            return dead


class Command(BaseCommand):
    help = "Remove the names of expired cache keys from cacheops' conjunction sets (SCAN based)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--chunk-size", type=int, default=1000, help="keys per SCAN/SSCAN step")
        parser.add_argument(
            "--min-conj-set-size", type=int, default=1000, help="skip conjunction sets smaller than this"
        )
        parser.add_argument("--dry-run", action="store_true", help="only count what would be removed")

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        last = [0.0]

        def progress(result: ReapResult) -> None:
            # every chunk with -v 2, at most once a second otherwise
            now = time.monotonic()
            if verbosity >= 2 or (verbosity == 1 and now - last[0] >= 1.0):
                last[0] = now
                self.stdout.write(
                    f"  scanned {result.scanned_keys} keys, {result.checked_sets} sets checked, "
                    f"{result.dead_members} dead references"
                )

        try:
            result = reap_conjs(
                chunk_size=options["chunk_size"],
                min_conj_set_size=options["min_conj_set_size"],
                dry_run=options["dry_run"],
                progress=progress,
            )
        except ValueError as e:
            raise CommandError(str(e)) from e
        verb = "Would remove" if options["dry_run"] else "Removed"
        if verbosity >= 1:
            self.stdout.write(
                f"{verb} {result.dead_members} dead reference(s) from {result.checked_sets} of "
                f"{result.conj_sets} conjunction set(s) ({result.scanned_keys} keys scanned)"
            )
