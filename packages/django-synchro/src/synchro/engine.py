"""The synchronization engine: read the source's log in batches and apply them to the target.

One batch is one transaction on the target. In that transaction the engine locks the
checkpoint, writes the objects, the pk map (:class:`~synchro.models.Reference`) and moves
the checkpoint, so a crash at any point leaves the target either before or after the
whole batch, and the next run continues after the last committed batch without
duplicates. Objects are copied with their current values (the log only says *which*
objects changed), so replaying a batch is harmless.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .batch import apply_batch
from .changes import LOG_COLUMNS, ChangeSet, LogRow
from .checkpoints import CheckpointGuard, ConcurrentSync, Start, node_id, read_checkpoint
from .context import SyncContext
from .gaps import Gaps
from .models import ChangeLog, FailedChange, options
from .results import ChangeFailed, Conflict, Summary, SyncError
from .schema import forget_models
from .settings import synchro_settings

__all__ = ["Conflict", "Summary", "SyncError", "Synchronizer", "node_id", "prune_logs", "synchronize"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass
class Run:
    """What one run of a :class:`Synchronizer` carries from batch to batch."""

    ctx: SyncContext
    guard: CheckpointGuard
    gaps: Gaps  # log ids skipped so far, saved with the checkpoint
    now: datetime.datetime  # when the run started: the checkpoint's synced_at

    def forget_copies(self) -> None:
        """After a failed batch: the copies it made were rolled back (a dry run made none)."""
        if not self.ctx.dry_run:
            self.ctx.copies.clear()


class Synchronizer:
    """Synchronize one direction: the source's log since the checkpoint goes to the target."""

    def __init__(
        self,
        direction: str = "push",
        *,
        local: str | None = None,
        remote: str | None = None,
        batch_size: int | None = None,
        models: Iterable[type[models.Model]] | None = None,
        dry_run: bool = False,
        continue_on_error: bool = False,
        progress: ProgressCallback | None = None,
    ) -> None:
        if direction not in ("push", "pull"):
            raise ValueError(f"direction must be 'push' or 'pull', not {direction!r}")
        local = local or synchro_settings.LOCAL
        remote = remote or synchro_settings.REMOTE
        if not remote:
            raise SyncError(_("SYNCHRO_REMOTE is not set: there is no database to synchronize with"))
        if remote not in connections.databases:
            raise ImproperlyConfigured(f"SYNCHRO_REMOTE names {remote!r}, which is not in DATABASES")
        self.direction = direction
        self.local = local
        self.source, self.target = (local, remote) if direction == "push" else (remote, local)
        self.batch_size = batch_size or synchro_settings.BATCH_SIZE
        self.labels = sorted({m._meta.label_lower for m in models}) if models else None
        self.dry_run = dry_run
        self.continue_on_error = continue_on_error
        self.progress = progress
        self.log_delay = synchro_settings.LOG_DELAY
        self.started = timezone.now()

    def _logs(self, after: int):
        queryset = ChangeLog.objects.using(self.source).filter(id__gt=after)
        if self.log_delay is not None:
            queryset = queryset.filter(date__lte=self.started - self.log_delay)
        if self.labels is not None:
            queryset = queryset.filter(model__in=self.labels)
        return queryset

    def _context(self) -> SyncContext:
        """Identities of both databases, and which of the target's own log entries are unseen."""
        source_node = node_id(self.source, create=not self.dry_run)
        target_node = node_id(self.target, create=not self.dry_run)
        seen = read_checkpoint(self.source, target_node)  # how far the target's log was pulled
        unseen = Q(id__gt=seen.position if seen else 0)
        for query in Gaps(seen.gaps if seen else ()).filters():
            unseen |= query
        return SyncContext(
            direction=self.direction,
            source=self.source,
            target=self.target,
            source_node=source_node,
            target_node=target_node,
            dry_run=self.dry_run,
            unseen_target=unseen,
        )

    def _start(self) -> tuple[Run, Start]:
        forget_models()
        ctx = self._context()
        guard = CheckpointGuard(
            self.source, self.target, ctx.source_node, push=self.direction == "push", dry_run=self.dry_run
        )
        now = timezone.now()
        try:
            start = guard.start()
        except DatabaseError as exc:
            raise SyncError(
                _(
                    "cannot read synchro's tables (%(error)s); "
                    "run: manage.py migrate synchro --database=<alias>"
                )
                % {"error": exc}
            ) from exc
        start.gaps.expire(int((now - synchro_settings.GAP_TIMEOUT).timestamp()))
        if start.moved_by_hand:
            logger.info(
                "options.last_check was moved: %s starts after log entry %d", self.direction, start.position
            )
        return Run(ctx, guard, start.gaps, now), start

    def run(self) -> Summary:
        run, start = self._start()
        summary = Summary(direction=self.direction, dry_run=self.dry_run)
        late = self._late_ids(run.gaps)
        position = start.position
        total = len(late) + self._logs(position).count()
        done = 0
        if self.progress:
            self.progress(0, total)
        for rows, moved_to in self._batches(run, late, start.position):
            position = moved_to
            summary.merge(self._apply(run, ChangeSet.from_rows(rows), position))
            summary.logs += len(rows)
            summary.batches += 1
            done += len(rows)
            if self.progress:
                self.progress(done, max(total, done))
        if self._guarded():
            self._finish(run, position)
        logger.info("%s", summary)
        return summary

    def _batches(self, run: Run, late: list[int], position: int) -> Iterator[tuple[list[LogRow], int]]:
        """Log rows batch by batch, each with the position the checkpoint moves to after it."""
        while late:  # first the rows that committed below the checkpoint after an earlier run
            chunk, late = late[: self.batch_size], late[self.batch_size :]
            rows = list(self._logs(-1).filter(id__in=chunk).order_by("id").values_list(*LOG_COLUMNS))
            run.gaps.discard(chunk)
            if rows:
                yield rows, position
        while rows := list(self._logs(position).order_by("id").values_list(*LOG_COLUMNS)[: self.batch_size]):
            # Ids skipped here may belong to transactions still open: look for them next time.
            run.gaps.add_missing(position, (row[0] for row in rows), int(run.now.timestamp()))
            position = rows[-1][0]
            yield rows, position

    def _late_ids(self, gaps: Gaps) -> list[int]:
        """Ids awaited below the checkpoint whose rows have appeared (committed) since, ascending."""
        found: list[int] = []
        for query in gaps.filters():
            found.extend(self._logs(-1).filter(query).values_list("id", flat=True))
        return sorted(found)

    def _guarded(self) -> bool:
        """Whether batches lock and move the checkpoint (not in dry runs, nor for some models only)."""
        return not self.dry_run and self.labels is None

    def _apply(self, run: Run, changes: ChangeSet, position: int) -> Summary:
        """Apply one batch in one transaction.

        When it fails nothing of it is written; the run stops with an error naming the failing
        object, or (``continue_on_error``) the batch is applied again object by object so that
        the failing ones are put aside.
        """
        try:
            summary = self._apply_batch(run, changes, position)
        except ConcurrentSync:
            raise
        except Exception as exc:
            run.forget_copies()
            if not self.continue_on_error:
                self._fail(changes, exc)
        else:
            self._clear_failed(changes)
            self._report(summary)
            return summary
        return self._apply_one_by_one(run, changes, position)

    def _apply_batch(self, run: Run, changes: ChangeSet, position: int | None) -> Summary:
        if self.dry_run:  # reads only: no transaction, no lock
            return apply_batch(run.ctx, changes)
        with transaction.atomic(using=self.target):
            if self._guarded():
                run.guard.lock()
            with source_snapshot(self.source):
                summary = apply_batch(run.ctx, changes)
            if position is not None and self._guarded():
                run.guard.advance(position, run.gaps, run.now)
        run.guard.committed_now()
        return summary

    def _describe(self, changes: ChangeSet, exc: Exception) -> str:
        if isinstance(exc, ChangeFailed):
            label, object_id = exc.label, exc.object_id
        elif len(changes) == 1:
            label, object_id, _entry = next(iter(changes))
        else:  # e.g. refused at COMMIT by a deferred foreign-key check: no one object to name
            first, last = changes.positions()
            return _(
                "synchronizing log entries %(first)d to %(last)d (%(count)d objects) to %(alias)r "
                "failed: %(error)s"
            ) % {"first": first, "last": last, "count": len(changes), "alias": self.target, "error": exc}
        return _("synchronizing %(model)s %(pk)r to %(alias)r failed: %(error)s") % {
            "model": label,
            "pk": object_id,
            "alias": self.target,
            "error": exc,
        }

    def _fail(self, changes: ChangeSet, exc: Exception) -> None:
        message = self._describe(changes, exc)
        logger.error("%s", message)
        raise SyncError(message) from exc

    def _apply_one_by_one(self, run: Run, changes: ChangeSet, position: int) -> Summary:
        """``continue_on_error``: apply each object of a failed batch alone, in log order, and
        put the failing ones aside."""
        summary = Summary(direction=self.direction, dry_run=self.dry_run)
        for label, object_id, entry in changes.in_log_order():
            single = changes.only(label, object_id)
            try:
                result = self._apply_batch(run, single, None)
            except ConcurrentSync:
                raise
            except Exception as exc:
                run.forget_copies()
                summary.failed += 1
                summary.errors.append(self._put_aside(run, label, object_id, entry.last_id, single, exc))
            else:
                self._clear_failed(single)
                self._report(result)
                summary.merge(result)
        if self._guarded():
            with transaction.atomic(using=self.target):
                run.guard.lock()
                run.guard.advance(position, run.gaps, run.now)
            run.guard.committed_now()
        return summary

    def _put_aside(
        self, run: Run, label: str, object_id: str, log_id: int, single: ChangeSet, exc: Exception
    ) -> str:
        """Record a failing change (``--continue-on-error``); returns its description."""
        message = self._describe(single, exc)
        logger.error("%s (put aside)", message)
        if not self.dry_run:
            FailedChange.objects.using(self.local).update_or_create(
                direction=self.direction,
                model=label,
                object_id=object_id,
                defaults={"log_id": log_id, "error": str(exc)[:2000], "created": run.now},
            )
        return message

    def _report(self, summary: Summary) -> None:
        for conflict in summary.conflicts:
            logger.warning(
                "conflict: %s %s changed on both sides (%s %s, %s %s), kept the %s version",
                conflict.model._meta.label,
                conflict.source_pk,
                "local" if self.direction == "push" else "remote",
                conflict.source_date.isoformat(),
                "remote" if self.direction == "push" else "local",
                conflict.target_date.isoformat(),
                conflict.winner,
            )

    def _clear_failed(self, changes: ChangeSet) -> None:
        if (
            self.dry_run
            or not FailedChange.objects.using(self.local).filter(direction=self.direction).exists()
        ):
            return
        for label, entries in changes.objects.items():
            FailedChange.objects.using(self.local).filter(
                direction=self.direction, model=label, object_id__in=list(entries)
            ).delete()

    def _finish(self, run: Run, position: int) -> None:
        with transaction.atomic(using=self.target):
            run.guard.lock()
            run.guard.advance(position, run.gaps, run.now)
        run.guard.committed_now()
        if self.direction == "push":
            options.last_check = run.now  # type: ignore[assignment]  # a dbsettings descriptor
        keep = synchro_settings.KEEP_LOGS
        if keep is not None:
            prune_logs(self.source, position, run.now - keep, awaiting=run.gaps)


@contextmanager
def source_snapshot(alias: str) -> Iterator[None]:
    """Read ``alias`` as of one moment for the block: a batch that reads an object and then the
    objects it points at must not see a deletion committed in between (the object would point
    at a row that exists nowhere).

    A read-only transaction: SQLite holds its read lock (writers wait for the end of the
    batch), PostgreSQL and MariaDB/MySQL read one snapshot (``REPEATABLE READ``). Inside a
    transaction the caller already holds, nothing changes.
    """
    connection = connections[alias]
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(using=alias):
        if connection.vendor in ("postgresql", "mysql"):
            with connection.cursor() as cursor:  # the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def prune_logs(alias: str, position: int, before: datetime.datetime, awaiting: Gaps | None = None) -> int:
    """Delete log entries of ``alias`` up to ``position`` that are older than ``before``.

    Entries whose ids are still ``awaiting`` synchronization (they committed late) are kept.
    """
    queryset = ChangeLog.objects.using(alias).filter(id__lte=position, date__lt=before)
    for query in (awaiting or Gaps()).filters():
        queryset = queryset.exclude(query)
    return queryset._raw_delete(alias)


def synchronize(
    direction: str = "push",
    *,
    batch_size: int | None = None,
    models: Iterable[type[models.Model]] | None = None,
    dry_run: bool = False,
    continue_on_error: bool = False,
    progress: ProgressCallback | None = None,
) -> list[Summary]:
    """Run one synchronization (``direction``: ``push``, ``pull`` or ``both``); one summary per direction."""
    if direction not in ("push", "pull", "both"):
        raise ValueError(f"direction must be 'push', 'pull' or 'both', not {direction!r}")
    directions = ["push", "pull"] if direction == "both" else [direction]
    return [
        Synchronizer(
            d,
            batch_size=batch_size,
            models=models,
            dry_run=dry_run,
            continue_on_error=continue_on_error,
            progress=progress,
        ).run()
        for d in directions
    ]
