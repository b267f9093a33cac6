# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Carrying out a batch's :class:`~synchro.plan.Plan` on the target, inside the caller's transaction.

A dry run does not come here: :func:`count_plan` tells what the writer would do.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models
from django.db.models.signals import post_save, pre_save

from .context import SyncContext
from .models import ChangeLog, Reference
from .plan import M2MCopy, Plan
from .replay import DELETE, WRITE, CopyOf, ObjectWrite, Step
from .resolve import IdentityMap
from .results import ChangeFailed, Summary
from .schema import ModelInfo, field_named, model_info, related_model, through_model
from .sql import chunks, column_in, column_name, insert_objects, insert_rows


class Planned:
    """Stands for the copy a dry run's earlier batch would have created."""

    __slots__ = ("key",)

    def __init__(self, label: str, source_pk: str) -> None:
        self.key = (label, source_pk)

    def __repr__(self) -> str:
        return f"<planned copy of {self.key[0]} {self.key[1]!r}>"


def count_plan(ctx: SyncContext, identity: IdentityMap, plan: Plan, summary: Summary) -> None:
    """What :class:`Writer` would do with ``plan``, added to ``summary``; nothing is written."""
    deleted: set[tuple[str, str]] = set()
    for step in plan.steps:
        label = step.info.label
        for p in step.deletions:
            if identity.knows(label, p) and (label, p) not in deleted:
                summary.deleted += 1
                deleted.add((label, p))
        for write in step.writes:
            if write.completes:  # its copy was counted when it was created
                continue
            if identity.knows(label, write.source_pk) and (label, write.source_pk) not in deleted:
                summary.changed += 1
            else:
                summary.added += 1
                ctx.copies[label][write.source_pk] = Planned(label, write.source_pk)


class Writer:
    """Writes a plan to the target: its steps in order, deferred FKs, m2m rows, pk map."""

    def __init__(self, ctx: SyncContext, identity: IdentityMap, summary: Summary) -> None:
        self.ctx = ctx
        self.identity = identity
        self.summary = summary
        # FKs left NULL to break a cycle: (object's model, its source pk, field, source pk it points at).
        self.deferred: list[tuple[ModelInfo, str, models.Field, str]] = []
        self.at: tuple[str, str] | None = None  # the object being written, for error messages

    def apply(self, plan: Plan) -> None:
        for step in plan.steps:
            try:
                if step.kind == WRITE:
                    self.write(step)
                elif step.kind == DELETE:
                    self.delete(step.info, step.deletions)
                else:
                    self.park(step)
            except ChangeFailed:
                raise
            except Exception as exc:
                label, pk = self.at or (step.info.label, "?")
                raise ChangeFailed(label, pk, str(exc)) from exc
            self.at = None
        self.fill_deferred()
        for copy in plan.m2m:
            self.at = (copy.info.label, copy.owners[0])
            self.copy_m2m(copy)
        self.at = None
        self.record_references()
        self.drop_superseded(plan.superseded)

    def delete(self, info: ModelInfo, source_pks: list[str]) -> None:
        target = self.ctx.target
        known = [p for p in source_pks if self.identity.knows(info.label, p)]
        if known:
            self.at = (info.label, known[0])
            copies = [self.identity.targets[info.label][p] for p in known]
            _count, per_model = info.model._base_manager.using(target).filter(pk__in=copies).delete()
            self.summary.deleted += per_model.get(info.model._meta.label, 0)
            self.identity.forget(info.label, known)
        for chunk in chunks(source_pks):
            Reference.objects.using(target).filter(
                peer=self.ctx.source_node, model=info.label, peer_object_id__in=chunk
            ).delete()

    def park(self, step: Step) -> None:
        """Temporary values (see :mod:`synchro.replay`), written without signals."""
        manager = step.info.model._base_manager.using(self.ctx.target)
        for parking in step.parkings:
            values = {
                name: self.identity.targets[value.label][value.source_pk]
                if isinstance(value, CopyOf)
                else value
                for name, value in parking.values.items()
            }
            manager.filter(pk=parking.target_pk).update(**values)

    # -- objects

    def write(self, step: Step) -> None:
        info = step.info
        creates: list[tuple[str, models.Model]] = []
        updates: list[tuple[str, models.Model]] = []
        overwrites: list[tuple[str, models.Model]] = []
        for write in step.writes:
            copy = self._copy(info, write)
            if self.identity.knows(info.label, write.source_pk):
                copy.pk = self.identity.targets[info.label][write.source_pk]
                copy._state.adding = False
                copy._state.db = self.ctx.target
                # An addition over an object with the same pk replaces it whole (django-synchro 0.7).
                (overwrites if write.added and not info.auto_pk else updates).append((write.source_pk, copy))
            else:
                if not info.auto_pk:
                    copy.pk = info.pk_value(write.source_pk)
                creates.append((write.source_pk, copy))
        if creates:
            self._create(info, creates)
        if updates:
            self._update(info, updates, info.copied)
        if overwrites:
            self._update(info, overwrites, info.concrete)
        self.summary.changed -= sum(1 for write in step.writes if write.completes)  # counted as added

    def _copy(self, info: ModelInfo, write: ObjectWrite) -> models.Model:
        """The source object, made into its copy for the target (the batch reads it no more).

        Its FKs point at the target's objects (or stay NULL for now, ``deferred``), skipped
        fields hold their defaults, the pk is unset and the object is unsaved and uncached.
        """
        obj = write.obj
        values = obj.__dict__
        targets = self.identity.targets
        for fk in info.foreign_keys:
            value = values[fk.attname]
            if value is None:
                continue
            if fk in write.deferred:
                self.deferred.append((info, write.source_pk, fk, str(value)))
                values[fk.attname] = None
            else:
                values[fk.attname] = targets[related_model(fk)._meta.label_lower][str(value)]
        for f in info.skipped:
            values[f.attname] = f.get_default()
        values[info.model._meta.pk.attname] = None
        values.pop("_prefetched_objects_cache", None)
        obj._state.adding = True
        obj._state.db = None
        obj._state.fields_cache = {}
        return obj

    def _create(self, info: ModelInfo, creates: list[tuple[str, models.Model]]) -> None:
        model, target = info.model, self.ctx.target
        objs = [copy for _p, copy in creates]
        for p, obj in creates:
            self.at = (info.label, p)
            pre_save.send(sender=model, instance=obj, raw=False, using=target, update_fields=None)
        self.at = (info.label, creates[0][0])
        if not info.auto_pk:
            insert_objects(target, model, (model._meta.pk, *info.concrete), objs)
        elif connections[target].features.can_return_rows_from_bulk_insert and info.concrete:
            for obj, pk in zip(objs, insert_objects(target, model, info.concrete, objs), strict=True):
                obj.pk = pk
        else:  # MySQL: one INSERT per object to learn its pk
            for obj in objs:
                obj.save_base(using=target, force_insert=True, raw=True)
        for _p, obj in creates:
            obj._state.adding = False
            obj._state.db = target
        self.identity.add_created(info, [(source_pk, obj.pk) for source_pk, obj in creates])
        for p, obj in creates:
            self.at = (info.label, p)
            post_save.send(
                sender=model, instance=obj, created=True, update_fields=None, raw=False, using=target
            )
        self.summary.added += len(creates)

    def _update(
        self, info: ModelInfo, pairs: list[tuple[str, models.Model]], fields: tuple[models.Field, ...]
    ) -> None:
        model, target = info.model, self.ctx.target
        for p, obj in pairs:
            self.at = (info.label, p)
            pre_save.send(sender=model, instance=obj, raw=False, using=target, update_fields=None)
        if fields:
            self.at = (info.label, pairs[0][0])
            model._base_manager.using(target).bulk_update(
                [obj for _p, obj in pairs], [f.name for f in fields]
            )
        for p, obj in pairs:
            self.at = (info.label, p)
            post_save.send(
                sender=model, instance=obj, created=False, update_fields=None, raw=False, using=target
            )
        self.summary.changed += len(pairs)

    def fill_deferred(self) -> None:
        targets = self.identity.targets
        for info, source_pk, fk, points_at in self.deferred:
            info.model._base_manager.using(self.ctx.target).filter(pk=targets[info.label][source_pk]).update(
                **{fk.attname: targets[related_model(fk)._meta.label_lower][points_at]}
            )
        self.deferred.clear()

    # -- relations and bookkeeping

    def copy_m2m(self, copy: M2MCopy) -> None:
        """Make the relation of the copies equal to the source's: add, change and delete rows."""
        f, label = copy.field, copy.info.label
        through = through_model(f)
        src = field_named(through, f.m2m_field_name())
        dst = field_named(through, f.m2m_reverse_field_name())
        related_label = related_model(f)._meta.label_lower
        targets = self.identity.targets
        owner_copies, related_copies = targets[label], targets[related_label]
        wanted: dict[tuple[Any, Any], models.Model | None] = {
            (owner_copies[owner], related_copies[related]): row for owner, related, row in copy.rows
        }
        manager = through._base_manager.using(self.ctx.target)
        existing: dict[tuple[Any, Any], Any] = {}
        created = self.identity.created[label]
        older = [targets[label][p] for p in copy.owners if p not in created]  # new copies have no rows yet
        for chunk in chunks(older):
            for pk, a, b in manager.filter(column_in(through, src, chunk, self.ctx.target)).values_list(
                "pk", src.attname, dst.attname
            ):
                existing[(a, b)] = pk
        stale = [pk for pair, pk in existing.items() if pair not in wanted]
        for chunk in chunks(stale):
            manager.filter(pk__in=chunk).delete()
        if through._meta.auto_created:
            self._insert_pairs(through, src, dst, [pair for pair in wanted if pair not in existing])
        else:
            self._write_through_rows(through, src, dst, wanted, existing)

    def _insert_pairs(
        self, through: type[models.Model], src: models.Field, dst: models.Field, pairs: list
    ) -> None:
        connection = connections[self.ctx.target]
        if not all(
            isinstance(f.target_field, models.IntegerField) for f in (src, dst)
        ):  # ints pass as they are
            pairs = [
                (src.get_db_prep_save(a, connection), dst.get_db_prep_save(b, connection)) for a, b in pairs
            ]
        insert_rows(self.ctx.target, through._meta.db_table, [column_name(src), column_name(dst)], pairs)

    def _write_through_rows(
        self,
        through: type[models.Model],
        src: models.Field,
        dst: models.Field,
        wanted: dict[tuple[Any, Any], models.Model | None],
        existing: dict[tuple[Any, Any], Any],
    ) -> None:
        """Rows of an explicit through model, with their own fields (FKs pointing at the target's objects)."""
        info = model_info(through)
        extra = [x for x in info.copied if x.attname not in (src.attname, dst.attname)]
        targets = self.identity.targets
        new, changed = [], []
        for pair, source_row in wanted.items():
            data = {src.attname: pair[0], dst.attname: pair[1]}
            for x in extra:
                value = getattr(source_row, x.attname)
                if value is not None and x in info.foreign_keys:
                    value = targets[related_model(x)._meta.label_lower][str(value)]
                data[x.attname] = value
            row = through(**data)
            if pair not in existing:
                new.append(row)
            elif extra:
                row.pk = existing[pair]
                changed.append(row)
        manager = through._base_manager.using(self.ctx.target)
        if new:
            manager.bulk_create(new)
        if changed:
            manager.bulk_update(changed, [x.name for x in extra])

    def record_references(self) -> None:
        node = self.ctx.source_node
        insert_rows(
            self.ctx.target,
            Reference._meta.db_table,
            ["peer", "model", "object_id", "peer_object_id"],
            [(node, label, target, source) for label, target, source in self.identity.new_references],
        )
        self.identity.new_references.clear()

    def drop_superseded(self, superseded: dict[str, list[str]]) -> None:
        """The target's own changes that this batch overwrote are no longer worth syncing back."""
        for label, object_ids in superseded.items():
            for chunk in chunks(object_ids):
                ChangeLog.objects.using(self.ctx.target).filter(
                    self.ctx.unseen_target, model=label, object_id__in=chunk
                )._raw_delete(self.ctx.target)
