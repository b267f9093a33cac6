"""Public API: natural keys, switching logging off, running and resetting synchronization."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .engine import Conflict, ProgressCallback, Summary, SyncError, prune_logs, synchronize
from .handlers import DisableSynchroLog, disable_synchro_log, write_logs
from .models import ADDITION, CHANGE, DELETION, ChangeLog, FailedChange, options
from .natural import NaturalKeyModel, NaturalManager
from .settings import synchro_settings

NO_REMOTE_WARNING = "SYNCHRO_REMOTE is not set: synchro only logs changes, nothing was synchronized"

__all__ = [
    "Conflict",
    "DisableSynchroLog",
    "NaturalKeyModel",
    "NaturalManager",
    "Summary",
    "SyncError",
    "call_synchronize",
    "disable_synchro_log",
    "log_changes",
    "prune_logs",
    "reset_synchro",
    "retry_failed",
]


def call_synchronize(
    direction: str = "push",
    *,
    batch_size: int | None = None,
    models: Iterable[type[models.Model]] | None = None,
    dry_run: bool = False,
    continue_on_error: bool = False,
    progress: ProgressCallback | None = None,
) -> Summary:
    """Synchronize everything logged since the last checkpoint; return what was done.

    ``direction`` is ``push`` (LOCAL → REMOTE, the default), ``pull`` or ``both``.
    Raises :class:`SyncError` naming the failing object, unless ``continue_on_error``
    puts failing changes aside (see :class:`~synchro.models.FailedChange`).
    Without ``SYNCHRO_REMOTE`` nothing is synchronized and a ``RuntimeWarning`` says so;
    ``SYNCHRO_REMOTE = None`` (a database that only logs) raises :class:`SyncError`.
    """
    if not synchro_settings.REMOTE_CONFIGURED:
        warnings.warn(NO_REMOTE_WARNING, RuntimeWarning, stacklevel=2)
        return Summary(direction=direction, dry_run=dry_run)
    if synchro_settings.REMOTE is None:
        raise SyncError(_("SYNCHRO_REMOTE is None: this database only logs changes, it has no remote"))
    results = synchronize(
        direction,
        batch_size=batch_size,
        models=models,
        dry_run=dry_run,
        continue_on_error=continue_on_error,
        progress=progress,
    )
    total = results[0]
    for other in results[1:]:
        total.direction += "+" + other.direction
        total.merge(other)
    return total


def reset_synchro() -> None:
    """Forget everything logged so far: delete LOCAL's log and move the checkpoint to now."""
    local = synchro_settings.LOCAL
    now = timezone.now()
    with transaction.atomic(using=local):
        ChangeLog.objects.using(local).filter(date__lte=now)._raw_delete(local)
        FailedChange.objects.using(local).all().delete()
    options.last_check = now  # type: ignore[assignment]  # a dbsettings descriptor


def log_changes(
    model: type[models.Model], pks: Iterable[Any], action: str = "change", using: str | None = None
) -> None:
    """Log changes made without signals (``QuerySet.update``, raw SQL): ``action`` is
    ``'addition'``, ``'change'`` or ``'deletion'``."""
    actions = {"addition": ADDITION, "change": CHANGE, "deletion": DELETION}
    if action not in actions:
        raise ValueError(f"action must be one of {', '.join(actions)}, not {action!r}")
    write_logs(using or synchro_settings.LOCAL, model, list(pks), actions[action])


def retry_failed(direction: str = "push") -> int:
    """Log again every change put aside by ``--continue-on-error``; returns how many."""
    local = synchro_settings.LOCAL
    source = local if direction == "push" else synchro_settings.REMOTE
    if source is None:
        raise ValueError("retry_failed('pull') needs SYNCHRO_REMOTE")
    count = 0
    with transaction.atomic(using=local):
        for failed in FailedChange.objects.using(local).filter(direction=direction):
            write_logs(source, apps.get_model(failed.model), [failed.object_id], CHANGE)
            count += 1
        FailedChange.objects.using(local).filter(direction=direction).delete()
    return count
