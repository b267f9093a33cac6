"""Log ids the checkpoint skipped: they may still commit, so later runs look for them again.

PostgreSQL and MariaDB hand out auto-increment ids when a row is inserted, not when
its transaction commits. A synchronization that reads ids 7 and 9 while the
transaction holding id 8 is still open moves the checkpoint to 9; without a record of
the hole, id 8 would never be read. :class:`Gaps` is that record: ranges of missing ids
below the checkpoint, each with the moment it was first noticed, kept until the row
appears or the horizon (``SYNCHRO_GAP_TIMEOUT``) passes (a rolled-back insert leaves
a hole that never fills).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from django.db.models import Q

# Ranges per query when looking for late rows (keeps every statement small).
RANGES_PER_QUERY = 500


class Gaps:
    """Sorted, disjoint ranges ``[low, high, noticed]`` of missing log ids (``noticed``: Unix seconds)."""

    def __init__(self, ranges: Iterable[Iterable[int]] = ()) -> None:
        self.ranges: list[list[int]] = sorted(
            [int(low), int(high), int(noticed)] for low, high, noticed in ranges
        )

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def to_json(self) -> list[list[int]]:
        return [list(r) for r in self.ranges]

    def lowest(self) -> int | None:
        """The smallest id still awaited, or None."""
        return self.ranges[0][0] if self.ranges else None

    def expire(self, before: int) -> int:
        """Forget the ranges noticed at or before ``before`` (Unix seconds); returns how many ids went."""
        dropped = sum(high - low + 1 for low, high, noticed in self.ranges if noticed <= before)
        self.ranges = [r for r in self.ranges if r[2] > before]
        return dropped

    def add_missing(self, after: int, ids: Iterable[int], noticed: int) -> None:
        """Record every id between ``after`` and each of the ascending ``ids`` that is not among them."""
        previous = after
        for log_id in ids:
            if log_id > previous + 1:
                self.ranges.append([previous + 1, log_id - 1, noticed])
            previous = max(previous, log_id)

    def discard(self, ids: Iterable[int]) -> None:
        """The rows ``ids`` were read: stop waiting for them."""
        found = sorted(set(ids))
        if not found:
            return
        ranges: list[list[int]] = []
        for low, high, noticed in self.ranges:
            start = bisect.bisect_left(found, low)
            stop = bisect.bisect_right(found, high)
            for log_id in found[start:stop]:
                if log_id > low:
                    ranges.append([low, log_id - 1, noticed])
                low = log_id + 1
            if low <= high:
                ranges.append([low, high, noticed])
        self.ranges = ranges

    def filters(self) -> Iterator[Q]:
        """``Q`` objects on ``id`` that together cover every awaited id, a few hundred ranges each."""
        for start in range(0, len(self.ranges), RANGES_PER_QUERY):
            query = Q()
            for low, high, _ in self.ranges[start : start + RANGES_PER_QUERY]:
                query |= Q(id=low) if low == high else Q(id__range=(low, high))
            yield query
