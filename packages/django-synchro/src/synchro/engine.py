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
from collections.abc import Callable, Iterable

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .batch import apply_batch
from .changes import LOG_COLUMNS, ChangeSet
from .checkpoints import CheckpointGuard, ConcurrentSync, node_id, read_checkpoint
from .context import SyncContext
from .gaps import Gaps
from .models import ChangeLog, FailedChange, options
from .results import Conflict, Summary, SyncError
from .schema import forget_models
from .settings import synchro_settings

__all__ = ["Conflict", "Summary", "SyncError", "Synchronizer", "node_id", "prune_logs", "synchronize"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


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

    def run(self) -> Summary:
        forget_models()
        self.ctx = ctx = self._context()
        now = timezone.now()
        self.guard = CheckpointGuard(
            self.source, self.target, ctx.source_node, push=self.direction == "push", dry_run=self.dry_run
        )
        try:
            start = self.guard.start()
            self.gaps = start.gaps
            self.gaps.expire(int((now - synchro_settings.GAP_TIMEOUT).timestamp()))
            late = self._late_ids()
        except DatabaseError as exc:
            raise SyncError(
                _(
                    "cannot read synchro's tables (%(error)s); "
                    "run: manage.py migrate synchro --database=<alias>"
                )
                % {"error": exc}
            ) from exc
        if start.moved_by_hand:
            logger.info(
                "options.last_check was moved: %s starts after log entry %d", self.direction, start.position
            )
        summary = Summary(direction=self.direction, dry_run=self.dry_run)
        position = start.position
        total = len(late) + self._logs(position).count()
        done = 0
        if self.progress:
            self.progress(0, total)
        while True:
            if late:
                # First the rows that committed below the checkpoint after an earlier run.
                chunk, late = late[: self.batch_size], late[self.batch_size :]
                rows = list(self._logs(-1).filter(id__in=chunk).order_by("id").values_list(*LOG_COLUMNS))
                self.gaps.discard(chunk)
                if not rows:
                    continue
            else:
                rows = list(self._logs(position).order_by("id").values_list(*LOG_COLUMNS)[: self.batch_size])
                if not rows:
                    break
                # Ids skipped here may belong to transactions still open: look for them next time.
                self.gaps.add_missing(position, (row[0] for row in rows), int(now.timestamp()))
                position = rows[-1][0]
            summary.merge(self._apply(ChangeSet.from_rows(rows), position, now))
            summary.logs += len(rows)
            summary.batches += 1
            done += len(rows)
            if self.progress:
                self.progress(done, max(total, done))
        if not self.dry_run and self.labels is None:
            self._finish(position, now)
        logger.info("%s", summary)
        return summary

    def _late_ids(self) -> list[int]:
        """Ids awaited below the checkpoint whose rows have appeared (committed) since, ascending."""
        found: list[int] = []
        for query in self.gaps.filters():
            found.extend(self._logs(-1).filter(query).values_list("id", flat=True))
        return sorted(found)

    def _guarded(self) -> bool:
        return not self.dry_run and self.labels is None

    def _apply(self, changes: ChangeSet, position: int, now: datetime.datetime) -> Summary:
        """Apply one batch in one transaction; on failure find the failing objects one by one."""
        try:
            summary = self._apply_batch(changes, position, now)
        except ConcurrentSync:
            raise
        except Exception as exc:
            if not self.dry_run:
                self.ctx.copies.clear()  # the copies a failed batch made were rolled back
            if len(changes) == 1 and not self.continue_on_error:
                self._fail(changes, exc)
        else:
            self._clear_failed(changes)
            self._report(summary)
            return summary
        return self._apply_one_by_one(changes, position, now)

    def _apply_batch(self, changes: ChangeSet, position: int | None, now: datetime.datetime) -> Summary:
        if self.dry_run:  # reads only: no transaction, no lock
            return apply_batch(self.ctx, changes)
        with transaction.atomic(using=self.target):
            if self._guarded():
                self.guard.lock()
            summary = apply_batch(self.ctx, changes)
            if position is not None and self._guarded():
                self.guard.advance(position, self.gaps, now)
        return summary

    def _describe(self, changes: ChangeSet, exc: Exception) -> str:
        label, object_id, _entry = next(iter(changes))
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

    def _apply_one_by_one(self, changes: ChangeSet, position: int, now: datetime.datetime) -> Summary:
        """Find the failing objects of a failed batch; quarantine them or stop at the first."""
        summary = Summary(direction=self.direction, dry_run=self.dry_run)
        for label, object_id, entry in changes:
            single = changes.only(label, object_id)
            try:
                result = self._apply_batch(single, None, now)
            except ConcurrentSync:
                raise
            except Exception as exc:
                if not self.dry_run:
                    self.ctx.copies.clear()
                if not self.continue_on_error:
                    self._fail(single, exc)
                message = self._describe(single, exc)
                logger.error("%s (put aside)", message)
                summary.failed += 1
                summary.errors.append(message)
                if not self.dry_run:
                    FailedChange.objects.using(self.local).update_or_create(
                        direction=self.direction,
                        model=label,
                        object_id=object_id,
                        defaults={"log_id": entry.last_id, "error": str(exc)[:2000], "created": now},
                    )
            else:
                self._clear_failed(single)
                self._report(result)
                summary.merge(result)
        if self._guarded():
            with transaction.atomic(using=self.target):
                self.guard.lock()
                self.guard.advance(position, self.gaps, now)
        return summary

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

    def _finish(self, position: int, now: datetime.datetime) -> None:
        with transaction.atomic(using=self.target):
            self.guard.lock()
            self.guard.advance(position, self.gaps, now)
        if self.direction == "push":
            options.last_check = now  # type: ignore[assignment]  # a dbsettings descriptor
        keep = synchro_settings.KEEP_LOGS
        if keep is not None:
            prune_logs(self.source, position, now - keep, awaiting=self.gaps)


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
