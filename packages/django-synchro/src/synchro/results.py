"""What a synchronization reports: :class:`Summary`, :class:`Conflict` and :class:`SyncError`."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import CommandError
from django.db import models
from django.utils.translation import gettext as _


class SyncError(CommandError):
    """Synchronization failed; the message names the object and the cause.

    A ``CommandError``, as every failure of ``call_synchronize()`` was in django-synchro 0.7.
    """


class ChangeFailed(SyncError):
    """The change of one object could not be applied; ``label`` and ``object_id`` name it."""

    def __init__(self, label: str, object_id: str, message: str) -> None:
        super().__init__(message)
        self.label = label
        self.object_id = object_id


@dataclass
class Conflict:
    """A logged change whose object was also changed on the target since the last sync."""

    model: type[models.Model]
    direction: str
    source_pk: str
    target_pk: Any
    source_date: datetime.datetime
    target_date: datetime.datetime
    deletion: bool
    winner: str = ""

    @property
    def local_date(self) -> datetime.datetime:
        return self.source_date if self.direction == "push" else self.target_date

    @property
    def remote_date(self) -> datetime.datetime:
        return self.target_date if self.direction == "push" else self.source_date


@dataclass
class Summary:
    """What a synchronization did (or, with ``dry_run``, would do)."""

    direction: str = "push"
    added: int = 0
    changed: int = 0
    deleted: int = 0
    failed: int = 0
    logs: int = 0
    batches: int = 0
    dry_run: bool = False
    conflicts: list[Conflict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: Summary) -> None:
        self.added += other.added
        self.changed += other.changed
        self.deleted += other.deleted
        self.failed += other.failed
        self.logs += other.logs
        self.batches += other.batches
        self.conflicts.extend(other.conflicts)
        self.errors.extend(other.errors)

    def __str__(self) -> str:
        text = _(
            "%(direction)s: %(added)d added, %(changed)d changed, %(deleted)d deleted, "
            "%(conflicts)d conflicts, %(failed)d failed"
        ) % {
            "direction": self.direction,
            "added": self.added,
            "changed": self.changed,
            "deleted": self.deleted,
            "conflicts": len(self.conflicts),
            "failed": self.failed,
        }
        if self.dry_run:
            text += " " + _("(dry run, nothing written)")
        return text
