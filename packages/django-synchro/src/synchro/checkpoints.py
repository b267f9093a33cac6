"""Database identities and checkpoints: where a run starts, and the guard between two runs.

A checkpoint (``synchro_checkpoint`` on the target, keyed by the source's node id) is the
log position the source has been applied up to, plus the ids it skipped
(:class:`~synchro.gaps.Gaps`). Every batch locks it first, checks that no other run moved
it, and moves it in the batch's own transaction.

``options.last_check`` can move it by hand. To tell such a move from synchro's own
writes, the row remembers the value ``options.last_check`` had when its run started
(``last_check``) and that run's start (``synced_at``), which synchro writes to
``options.last_check`` when the run completes: any other value is a move by hand. So a
run that was killed resumes from its last committed batch.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Max
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .gaps import Gaps
from .models import ChangeLog, Checkpoint, Node, last_check_moment
from .results import SyncError

UNSAVED = "unsaved"  # the node id a dry run uses for a database that has none yet


class ConcurrentSync(SyncError):
    """Two synchronizations of the same source and target ran at the same time."""


def _missing_tables(alias: str, exc: Exception) -> SyncError:
    return SyncError(
        _(
            "synchro's tables are missing or unreadable on database %(alias)r (%(error)s); "
            "run: manage.py migrate synchro --database=%(alias)s"
        )
        % {"alias": alias, "error": exc}
    )


def node_id(alias: str, create: bool = True) -> str:
    """The identity of database ``alias`` (a UUID in its ``synchro_node`` table).

    Created on first use; the row is unique, so when two runs create it at once, one
    insert fails and that run reads the other's.
    """
    nodes = Node.objects.using(alias)
    try:
        node = nodes.filter(own=True).first()
        if node is None:
            if not create:
                return UNSAVED
            try:
                with transaction.atomic(using=alias):
                    node = nodes.create()
            except IntegrityError:
                node = nodes.get(own=True)
    except DatabaseError as exc:
        raise _missing_tables(alias, exc) from exc
    return str(node.id)


@dataclass
class Start:
    """Where a run begins reading the source's log."""

    position: int
    gaps: Gaps = field(default_factory=Gaps)
    moved_by_hand: bool = False


class CheckpointGuard:
    """The checkpoint of one source on one target, for one run (see the module docstring)."""

    def __init__(self, source: str, target: str, source_node: str, *, push: bool, dry_run: bool) -> None:
        self.source, self.target = source, target
        self.source_node = source_node
        self.push = push
        self.dry_run = dry_run
        self.committed: tuple[int, list[list[int]]] | None = None  # the row as this run last committed it
        self.advanced: tuple[int, list[list[int]]] | None = None  # written, not committed yet
        self.observed: datetime.datetime | None = None  # options.last_check when the run started

    def _rows(self):
        return Checkpoint.objects.using(self.target).filter(source=self.source_node)

    def start(self) -> Start:
        """Read (on a first run: create) the checkpoint; follow a move of ``options.last_check``."""
        if self.dry_run:
            row = self._rows().first()
        else:
            row, _created = Checkpoint.objects.using(self.target).get_or_create(source=self.source_node)
        self.committed = (row.position, Gaps(row.gaps).to_json()) if row else None
        start = Start(row.position, Gaps(row.gaps)) if row else Start(0)
        if self.push:
            self.observed = last_check_moment()
            if self.observed is not None and not self._ours(row, self.observed):
                top = (
                    ChangeLog.objects.using(self.source)
                    .filter(date__lte=self.observed)
                    .aggregate(top=Max("id"))["top"]
                )
                start = Start(top or 0, moved_by_hand=True)
        return start

    @staticmethod
    def _ours(row: Checkpoint | None, observed: datetime.datetime) -> bool:
        """Whether ``options.last_check`` holds a value synchro itself left with this checkpoint."""
        if row is None:
            return False
        return observed == row.synced_at or (
            bool(row.last_check) and observed == parse_datetime(row.last_check)
        )

    def lock(self) -> None:
        """First statement of a batch's transaction: take the row, and stop if another run moved it.

        (A rolled-back :meth:`advance` is forgotten here.)

        The UPDATE takes the row lock on every backend (on SQLite the write lock), so a
        concurrent run waits here, then sees the move.
        """
        self.advanced = None
        self._rows().update(position=F("position"))
        row = self._rows().select_for_update().first()
        current = (row.position, Gaps(row.gaps).to_json()) if row else None
        if current != self.committed:
            raise ConcurrentSync(
                _(
                    "another synchronization moved the checkpoint on %(alias)r from %(old)s to %(new)s; "
                    "run synchronize again"
                )
                % {
                    "alias": self.target,
                    "old": self.committed[0] if self.committed else None,
                    "new": current[0] if current else None,
                }
            )

    def advance(self, position: int, gaps: Gaps, now: datetime.datetime) -> None:
        """Move the checkpoint (in the caller's transaction, after :meth:`lock`); call
        :meth:`committed_now` once that transaction has committed."""
        saved = gaps.to_json()
        self._rows().update(
            position=position,
            gaps=saved,
            synced_at=now,
            last_check=self.observed.isoformat() if self.observed is not None else "",
        )
        self.advanced = (position, saved)

    def committed_now(self) -> None:
        """The transaction of the last :meth:`advance` committed: that is now this run's row.

        Until then the row is not this run's: a transaction refused at COMMIT (e.g. by a
        deferred foreign-key check) leaves the row as it was, and the next :meth:`lock` must
        not take the difference for another run.
        """
        if self.advanced is not None:
            self.committed, self.advanced = self.advanced, None


def read_checkpoint(alias: str, source_node: str) -> Checkpoint | None:
    """The checkpoint of ``source_node``'s log on ``alias``, if any."""
    try:
        return Checkpoint.objects.using(alias).filter(source=source_node).first()
    except DatabaseError as exc:
        raise _missing_tables(alias, exc) from exc
