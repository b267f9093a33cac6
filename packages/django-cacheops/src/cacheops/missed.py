"""The invalidations a process could not send (Redis unreachable), kept to be sent again.

A bounded journal: per database alias and table, the rows (encoded as the invalidation scripts
take them) whose invalidation failed. Past :data:`MAX_ROWS` rows of one table the table is kept
as a whole (all its cached results go); past :data:`MAX_TABLES` tables, or when
``invalidate_all()`` itself failed, the journal only remembers "everything". See
:mod:`cacheops.invalidation` for when it is replayed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["MAX_ROWS", "MAX_TABLES", "Missed", "MissedInvalidations"]

MAX_ROWS = 1000
MAX_TABLES = 200

Rows = list[dict[str, str]]


@dataclass
class Missed:
    """A snapshot of the journal: ``everything``, or ``{(alias, table): rows or None}`` (None: the
    whole table)."""

    everything: bool = False
    tables: dict[tuple[str, str], Rows | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.everything or bool(self.tables)


class MissedInvalidations:
    """The thread-safe journal of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._missed = Missed()

    @property
    def pending(self) -> bool:
        return bool(self._missed)

    def record(self, using: str, tables: dict[str, tuple[Rows, bool]]) -> None:
        """Note a failed invalidation of ``tables`` (``{table: (rows, complete)}``) on ``using``."""
        with self._lock:
            self._merge(
                Missed(
                    tables={
                        (using, t): (rows if complete else None) for t, (rows, complete) in tables.items()
                    }
                )
            )

    def record_everything(self) -> None:
        """Note a failed ``invalidate_all()``."""
        with self._lock:
            self._missed = Missed(everything=True)

    def take(self) -> Missed:
        """Empty the journal; return what it held (give it back with :meth:`restore` on failure)."""
        with self._lock:
            missed, self._missed = self._missed, Missed()
            return missed

    def restore(self, missed: Missed) -> None:
        """Put back what :meth:`take` returned (merged with what was recorded since)."""
        with self._lock:
            self._merge(missed)

    def _merge(self, other: Missed) -> None:
        mine = self._missed
        if mine.everything or other.everything:
            self._missed = Missed(everything=True)
            return
        for key, rows in other.tables.items():
            if key in mine.tables:
                kept = mine.tables[key]
                if kept is None or rows is None:
                    mine.tables[key] = None
                else:
                    kept.extend(row for row in rows if row not in kept)
                    if len(kept) > MAX_ROWS:
                        mine.tables[key] = None
            else:
                mine.tables[key] = None if rows is None or len(rows) > MAX_ROWS else list(rows)
        if len(mine.tables) > MAX_TABLES:
            self._missed = Missed(everything=True)
