"""The synchronization engine: read the source's log in batches and apply them to the target.

One batch is one transaction on the target. In that transaction the engine writes the
objects, the pk map (:class:`~synchro.models.Reference`) and the checkpoint, so a crash
at any point leaves the target either before or after the whole batch, and a re-run
continues from there without duplicates. Objects are copied with their current values
(the log only says *which* objects changed), so replaying a batch is harmless.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import DatabaseError, connections, models, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .batch import Batch, Entry, node_id
from .gaps import Gaps
from .handlers import DELETION
from .results import Conflict, Summary, SyncError
from .settings import synchro_settings

__all__ = ["Conflict", "Summary", "SyncError", "Synchronizer", "node_id", "prune_logs", "synchronize"]

ProgressCallback = Callable[[int, int], None]


class ConcurrentSync(SyncError):
    """Two synchronizations of the same source and target ran at the same time."""


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
            raise SyncError(
                _("SYNCHRO_REMOTE names %(alias)r, which is not in DATABASES") % {"alias": remote}
            )
        self.direction = direction
        self.local, self.remote = local, remote
        self.source, self.target = (local, remote) if direction == "push" else (remote, local)
        self.source_side = "local" if direction == "push" else "remote"
        self.batch_size = batch_size or synchro_settings.BATCH_SIZE
        self.labels = sorted({m._meta.label_lower for m in models}) if models else None
        self.dry_run = dry_run
        self.continue_on_error = continue_on_error
        self.progress = progress
        self.log_delay = synchro_settings.LOG_DELAY
        self.started = timezone.now()

    def _logs(self, after: int):
        from .models import ChangeLog

        queryset = ChangeLog.objects.using(self.source).filter(id__gt=after)
        if self.log_delay is not None:
            queryset = queryset.filter(date__lte=self.started - self.log_delay)
        if self.labels is not None:
            queryset = queryset.filter(model__in=self.labels)
        return queryset

    def _start_position(self) -> tuple[int, Gaps, Any]:
        from .models import ChangeLog, Checkpoint, options

        checkpoint = Checkpoint.objects.using(self.target).filter(source=self.source_node).first()
        position = checkpoint.position if checkpoint else 0
        gaps = Gaps(checkpoint.gaps if checkpoint else ())
        last_check = options.last_check if self.direction == "push" else None
        if last_check is not None and (checkpoint is None or checkpoint.last_check != last_check.isoformat()):
            # options.last_check was moved by hand (or by reset_synchro): restart from that moment.
            position = (
                ChangeLog.objects.using(self.source)
                .filter(date__lte=last_check)
                .aggregate(top=Max("id"))["top"]
                or 0
            )
            gaps = Gaps()
        return position, gaps, checkpoint

    def _late_ids(self) -> list[int]:
        """Ids awaited below the checkpoint whose rows have appeared (committed) since, ascending."""
        found: list[int] = []
        for query in self.gaps.filters():
            found.extend(self._logs(-1).filter(query).values_list("id", flat=True))
        return sorted(found)

    def _state(self, checkpoint: Any) -> tuple[int, list[list[int]]] | None:
        return (checkpoint.position, Gaps(checkpoint.gaps).to_json()) if checkpoint else None

    def run(self) -> Summary:
        from .models import Checkpoint

        self.source_node = node_id(self.source, create=not self.dry_run)
        self.target_node = node_id(self.target, create=not self.dry_run)
        now = timezone.now()
        try:
            position, self.gaps, checkpoint = self._start_position()
            self.committed = self._state(checkpoint)
            self.gaps.expire(int((now - synchro_settings.GAP_TIMEOUT).timestamp()))
            late = self._late_ids()
            seen = Checkpoint.objects.using(self.source).filter(source=self.target_node).first()
        except DatabaseError as exc:
            raise SyncError(
                _(
                    "cannot read synchro's tables (%(error)s); "
                    "run: manage.py migrate synchro --database=<alias>"
                )
                % {"error": exc}
            ) from exc
        # The target's own log entries not pulled yet: after the pull checkpoint, or awaited below it.
        self.unseen_target = Q(id__gt=seen.position if seen else 0)
        for query in Gaps(seen.gaps if seen else ()).filters():
            self.unseen_target |= query
        summary = Summary(direction=self.direction, dry_run=self.dry_run)
        total = len(late) + self._logs(position).count()
        done = 0
        if self.progress:
            self.progress(0, total)
        columns = ("id", "model", "object_id", "action", "date", "natural_key")
        while True:
            if late:
                # First the rows that committed below the checkpoint after an earlier run.
                chunk, late = late[: self.batch_size], late[self.batch_size :]
                rows = list(self._logs(-1).filter(id__in=chunk).order_by("id").values_list(*columns))
                self.gaps.discard(chunk)
                if not rows:
                    continue
            else:
                rows = list(self._logs(position).order_by("id").values_list(*columns)[: self.batch_size])
                if not rows:
                    break
                # Ids skipped here may belong to transactions still open: look for them next time.
                self.gaps.add_missing(position, (row[0] for row in rows), int(now.timestamp()))
                position = rows[-1][0]
            groups: dict[str, dict[str, Entry]] = defaultdict(dict)
            for log_id, label, object_id, action, date, key in rows:
                entry = groups[label].get(object_id)
                if entry is None:
                    groups[label][object_id] = Entry(log_id, date, key if action == DELETION else None)
                else:
                    entry.last_id, entry.date = log_id, max(entry.date, date)
                    if action == DELETION:
                        entry.natural_key = key
            summary.merge(self._apply(groups, position, now))
            summary.logs += len(rows)
            summary.batches += 1
            done += len(rows)
            if self.progress:
                self.progress(done, max(total, done))
        if not self.dry_run and self.labels is None:
            self._finish(position, now)
        return summary

    def _advance(self, position: int, now: datetime.datetime) -> None:
        from .models import Checkpoint

        if self.labels is not None or self.dry_run:
            return
        # Lock the checkpoint row; if another run moved it since we read it, stop.
        row = (
            Checkpoint.objects.using(self.target).select_for_update().filter(source=self.source_node).first()
        )
        current = self._state(row)
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
        gaps = self.gaps.to_json()
        Checkpoint.objects.using(self.target).update_or_create(
            source=self.source_node,
            defaults={
                "position": position,
                "gaps": gaps,
                "synced_at": now,
                "last_check": now.isoformat() if self.direction == "push" else "",
            },
        )
        self.committed = (position, gaps)

    def _apply(self, groups: dict[str, dict[str, Entry]], position: int, now: datetime.datetime) -> Summary:
        try:
            with transaction.atomic(using=self.target):
                summary = Batch(self, groups).run()
                self._advance(position, now)
                if self.dry_run:
                    transaction.set_rollback(True, using=self.target)
        except ConcurrentSync:
            raise
        except Exception as exc:
            if sum(map(len, groups.values())) == 1 and not self.continue_on_error:
                raise SyncError(self._describe(groups, exc)) from exc
        else:
            self._clear_failed(groups)
            return summary
        return self._apply_one_by_one(groups, position, now)

    def _describe(self, groups: dict[str, dict[str, Entry]], exc: Exception) -> str:
        label, entries = next(iter(groups.items()))
        object_id = next(iter(entries))
        return _("synchronizing %(model)s %(pk)r to %(alias)r failed: %(error)s") % {
            "model": label,
            "pk": object_id,
            "alias": self.target,
            "error": exc,
        }

    def _apply_one_by_one(
        self, groups: dict[str, dict[str, Entry]], position: int, now: datetime.datetime
    ) -> Summary:
        """Find the failing objects of a failed batch; quarantine them or stop at the first."""
        from .models import FailedChange

        summary = Summary(direction=self.direction, dry_run=self.dry_run)
        for label, entries in groups.items():
            for object_id, entry in entries.items():
                single = {label: {object_id: entry}}
                try:
                    with transaction.atomic(using=self.target):
                        summary.merge(Batch(self, single).run())
                        if self.dry_run:
                            transaction.set_rollback(True, using=self.target)
                except Exception as exc:
                    message = self._describe(single, exc)
                    if not self.continue_on_error:
                        raise SyncError(message) from exc
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
        with transaction.atomic(using=self.target):
            self._advance(position, now)
        return summary

    def _clear_failed(self, groups: dict[str, dict[str, Entry]]) -> None:
        from .models import FailedChange

        if (
            self.dry_run
            or not FailedChange.objects.using(self.local).filter(direction=self.direction).exists()
        ):
            return
        for label, entries in groups.items():
            FailedChange.objects.using(self.local).filter(
                direction=self.direction, model=label, object_id__in=list(entries)
            ).delete()

    def _finish(self, position: int, now: datetime.datetime) -> None:
        from .models import options

        with transaction.atomic(using=self.target):
            self._advance(position, now)
        if self.direction == "push":
            options.last_check = now  # type: ignore[assignment]  # a dbsettings descriptor
        keep = synchro_settings.KEEP_LOGS
        if keep is not None:
            prune_logs(self.source, position, now - keep, awaiting=self.gaps)


def prune_logs(alias: str, position: int, before: datetime.datetime, awaiting: Gaps | None = None) -> int:
    """Delete log entries of ``alias`` up to ``position`` that are older than ``before``.

    Entries whose ids are still ``awaiting`` synchronization (they committed late) are kept.
    """
    from .models import ChangeLog

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
