"""The log entries of one batch: kept in log order, and summed up per object."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .models import ADDITION, DELETION

# The ChangeLog columns a batch reads, in this order.
LOG_COLUMNS = ("id", "model", "object_id", "action", "date", "natural_key")
LogRow = tuple[int, str, str, int, datetime.datetime, Any]


@dataclass
class ObjectChanges:
    """What the log says about one object in a batch."""

    first_id: int  # position of its first entry
    last_id: int  # position of its last entry: its final state is written there
    date: datetime.datetime  # of its newest entry (conflicts compare it)
    added: bool = False  # an addition is among the entries
    natural_key: list[Any] | None = None  # saved with its deletion
    deleted_id: int | None = None  # position of its last deletion, if any


@dataclass
class ChangeSet:
    """Log rows of one batch in log order, and per model label and source pk what they add up to."""

    rows: list[LogRow] = field(default_factory=list)
    objects: dict[str, dict[str, ObjectChanges]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[LogRow]) -> ChangeSet:
        changes = cls()
        for row in rows:
            changes.add(row)
        return changes

    def add(self, row: LogRow) -> None:
        log_id, label, object_id, action, date, key = row
        self.rows.append(row)
        per_model = self.objects.setdefault(label, {})
        entry = per_model.get(object_id)
        if entry is None:
            per_model[object_id] = entry = ObjectChanges(log_id, log_id, date)
        else:
            entry.last_id, entry.date = log_id, max(entry.date, date)
        if action == ADDITION:
            entry.added = True
        elif action == DELETION:
            entry.natural_key = key
            entry.deleted_id = log_id

    def only(self, label: str, object_id: str) -> ChangeSet:
        """The rows of one object (to retry it alone)."""
        return ChangeSet.from_rows(r for r in self.rows if r[1] == label and r[2] == object_id)

    def in_log_order(self) -> list[tuple[str, str, ObjectChanges]]:
        """Every object of the batch, ordered by its last entry (where its final state belongs)."""
        return sorted(self, key=lambda item: item[2].last_id)

    def positions(self) -> tuple[int, int]:
        """The first and the last log id of the batch."""
        return self.rows[0][0], self.rows[-1][0]

    def __iter__(self) -> Iterator[tuple[str, str, ObjectChanges]]:
        for label, per_model in self.objects.items():
            for object_id, entry in per_model.items():
                yield label, object_id, entry

    def __len__(self) -> int:
        return sum(map(len, self.objects.values()))
