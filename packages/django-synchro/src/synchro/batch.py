"""One batch of logged changes, applied to the target: plan it, then write it (or count it)."""

from __future__ import annotations

from .changes import ChangeSet
from .context import SyncContext
from .handlers import DisableSynchroLog
from .plan import Planner
from .results import Summary
from .write import Writer, count_plan


def apply_batch(ctx: SyncContext, changes: ChangeSet) -> Summary:
    """Apply ``changes`` to ``ctx.target`` inside the caller's transaction; a dry run only reads.

    Writes made here are not logged (they would echo back in a two-way synchronization).
    """
    with DisableSynchroLog():
        planner = Planner(ctx, changes)
        plan = planner.plan()
        summary = Summary(direction=ctx.direction, dry_run=ctx.dry_run, conflicts=plan.conflicts)
        if ctx.dry_run:
            count_plan(ctx, planner.identity, plan, summary)
        else:
            Writer(ctx, planner.identity, summary).apply(plan)
    return summary
