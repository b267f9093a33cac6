# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="attr-defined"
"""Conflicts: logged changes whose copy was also changed on the target, and who wins them."""

from __future__ import annotations

from django.db.models import Max
from django.utils.translation import gettext as _

from .changes import ChangeSet
from .context import SyncContext
from .models import ChangeLog
from .resolve import IdentityMap, SourceObjects
from .results import Conflict, SyncError
from .schema import field_named, model_for_label
from .settings import synchro_settings
from .sql import chunks, column_in


def decide(conflict: Conflict) -> str:
    """``'local'`` or ``'remote'``: whose version stays, by ``SYNCHRO_CONFLICT``."""
    policy = synchro_settings.CONFLICT
    if callable(policy):
        winner = policy(conflict)
        if winner not in ("local", "remote"):
            raise SyncError(
                _("SYNCHRO_CONFLICT callable returned %(value)r; it must return 'local' or 'remote'")
                % {"value": winner}
            )
        return winner
    if policy == "local_wins":
        return "local"
    if policy == "remote_wins":
        return "remote"
    source_side = "local" if conflict.direction == "push" else "remote"
    target_side = "remote" if source_side == "local" else "local"
    return target_side if conflict.target_date > conflict.source_date else source_side


def find_conflicts(
    ctx: SyncContext, changes: ChangeSet, identity: IdentityMap, source: SourceObjects
) -> list[Conflict]:
    """The logged objects whose copy has log entries on the target that were not pulled yet."""
    conflicts: list[Conflict] = []
    object_id = field_named(ChangeLog, "object_id")
    for label, entries in changes.objects.items():
        targets = {str(identity.targets[label][p]): p for p in entries if identity.knows(label, p)}
        if not targets:
            continue
        model = model_for_label(label)
        for chunk in chunks(targets):
            rows = (
                ChangeLog.objects.using(ctx.target)
                .filter(ctx.unseen_target, column_in(ChangeLog, object_id, chunk, ctx.target), model=label)
                .values("object_id")
                .annotate(last=Max("date"))
            )
            for row in rows:
                p = targets[row["object_id"]]
                conflict = Conflict(
                    model=model,
                    direction=ctx.direction,
                    source_pk=p,
                    target_pk=identity.targets[label][p],
                    source_date=entries[p].date,
                    target_date=row["last"],
                    deletion=p in source.deleted[label],
                )
                conflict.winner = decide(conflict)
                conflicts.append(conflict)
    return conflicts
