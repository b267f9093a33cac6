"""One batch of logged changes, applied to the target: plan it, then write it (or count it)."""

from __future__ import annotations

from .changes import ChangeSet
from .context import SyncContext
from .handlers import DisableSynchroLog
from .plan import Plan, Planner
from .resolve import IdentityMap
from .results import Summary
from .write import Writer, count_plan

# How many copies a run remembers between batches (ids only; a dry run keeps all it plans).
REMEMBERED_COPIES = 200_000


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
    _remember(ctx, planner.identity, plan)
    return summary


def _remember(ctx: SyncContext, identity: IdentityMap, plan: Plan) -> None:
    """Keep the batch's copies for the next batches (the engine forgets them when a batch fails)."""
    if not ctx.dry_run and (
        plan.deletes or sum(map(len, ctx.copies.values())) > REMEMBERED_COPIES
    ):  # a deletion may cascade to any copy on the target
        ctx.copies.clear()
        return
    for label, targets in identity.targets.items():
        ctx.copies[label].update(targets)
