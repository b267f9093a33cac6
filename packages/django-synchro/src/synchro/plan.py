# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Planning one batch: what to write, delete or park, in which order, which m2m relations to copy.

The planner only reads (the source, and the target to find copies); the plan it returns is
carried out by :mod:`synchro.write`, or counted by a dry run. The order of the writes and
deletions is the log's, kept wherever two of them depend on each other (see
:mod:`synchro.replay`); m2m relations of logged objects are copied after them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext as _

from .changes import ChangeSet
from .conflicts import find_conflicts
from .context import SyncContext
from .models import ChangeLog
from .replay import ObjectWrite, Pulled, Replay, Step
from .resolve import IdentityMap, Resolver, SourceObjects
from .results import Conflict, SyncError
from .schema import ModelInfo, field_named, model_for_label, model_info, related_model, through_model
from .sql import chunks, column_in

ObjectKey = tuple[str, str]  # (model label, source pk)

__all__ = ["M2MCopy", "ObjectWrite", "Plan", "Planner", "Step"]


@dataclass
class M2MCopy:
    """The whole relation ``field`` of some source objects, as it is on the source."""

    info: ModelInfo  # the model that declares the field
    field: models.ManyToManyField
    owners: list[str]  # source pks
    rows: list[tuple[str, str, models.Model | None]]  # (owner pk, related pk, explicit through row)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    m2m: list[M2MCopy] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # The target's own log entries (object ids per label) this batch overwrites.
    superseded: dict[str, list[str]] = field(default_factory=dict)

    @property
    def deletes(self) -> bool:
        return any(step.deletions for step in self.steps)


class Planner:
    """Reads what a batch needs and returns its :class:`Plan` (see the module docstring)."""

    def __init__(self, ctx: SyncContext, changes: ChangeSet) -> None:
        self.ctx = ctx
        self.changes = changes
        self.source = SourceObjects()
        self.identity = IdentityMap()
        self.resolver = Resolver(ctx, self.identity, self.source)
        self.order: dict[ObjectKey, int] = {}  # the log position an object not logged is first needed at
        self.m2m: list[M2MCopy] = []
        self.kept_remote: set[ObjectKey] = set()  # conflicts the target's version won

    def plan(self) -> Plan:
        self._read_logged()
        conflicts, superseded = self._settle_conflicts()
        self._add_dependencies(self.source.to_write, first=True)
        return Plan(steps=self._replay(), m2m=self.m2m, conflicts=conflicts, superseded=superseded)

    # -- what the log names

    def _read_logged(self) -> None:
        for label, entries in self.changes.objects.items():
            info = model_info(model_for_label(label))
            found = self.source.load(info, entries, self.ctx.source)
            for p, entry in entries.items():
                if p in found:
                    self.source.to_write[label][p] = found[p]
                    self.order[(label, p)] = entry.first_id
                else:
                    self.source.deleted[label][p] = entry
            self.resolver.resolve(info, entries)

    def _settle_conflicts(self) -> tuple[list[Conflict], dict[str, list[str]]]:
        conflicts = find_conflicts(self.ctx, self.changes, self.identity, self.source)
        superseded: dict[str, list[str]] = defaultdict(list)
        for conflict in conflicts:
            label = conflict.model._meta.label_lower
            if conflict.winner == self.ctx.source_side:
                superseded[label].append(str(conflict.target_pk))
            else:
                self.source.to_write[label].pop(conflict.source_pk, None)
                self.source.deleted[label].pop(conflict.source_pk, None)
                self.kept_remote.add((label, conflict.source_pk))
        return conflicts, dict(superseded)

    # -- in which order

    def _replay(self) -> list[Step]:
        replay = Replay(self.ctx, self.identity, self.resolver, self, self.kept_remote)
        for label, deleted in self.source.deleted.items():
            info = model_info(model_for_label(label))
            for p, gone in deleted.items():
                replay.add_delete(info, p, gone.deleted_id or gone.last_id)
        for label, objs in self.source.to_write.items():
            info = model_info(model_for_label(label))
            logged = self.changes.objects.get(label, {})
            for p, obj in objs.items():
                entry = logged.get(p)
                if entry is None:  # a dependency: due where it is first needed
                    replay.add_write(info, ObjectWrite(p, obj), self.order[(label, p)])
                else:
                    replay.add_write(
                        info, ObjectWrite(p, obj, added=entry.added), entry.last_id, entry.deleted_id
                    )
        return replay.replay()

    def pull(self, info: ModelInfo, source_pk: str, position: int) -> Pulled:
        """A source object outside the batch whose copy stands in the way of the replay."""
        label = info.label
        obj = self.source.load(info, [source_pk], self.ctx.source).get(source_pk)
        if obj is None:
            ours = info.auto_pk or (
                ChangeLog.objects.using(self.ctx.source).filter(model=label, object_id=source_pk).exists()
            )
            return Pulled(gone=True) if ours else Pulled(foreign=True)
        self.source.to_write[label][source_pk] = obj
        self.order[(label, source_pk)] = position
        pulled = Pulled(writes=[(info, ObjectWrite(source_pk, obj), position)])
        for dep_label, objs in self._add_dependencies({label: {source_pk: obj}}, first=False).items():
            dep_info = model_info(model_for_label(dep_label))
            for p, dep in objs.items():
                pulled.writes.append((dep_info, ObjectWrite(p, dep), self.order[(dep_label, p)]))
        return pulled

    # -- what it depends on

    def _add_dependencies(
        self, todo: dict[str, dict[str, models.Model]], *, first: bool
    ) -> dict[str, dict[str, models.Model]]:
        """Add every object a written object points at (FK, m2m, FK of an m2m row) that has no copy
        yet (m2m only when ``first``: relations are copied for logged objects); returns them."""
        todo = {label: dict(objs) for label, objs in todo.items() if objs}
        added: dict[str, dict[str, models.Model]] = defaultdict(dict)
        while todo:
            needed: dict[type[models.Model], dict[str, int]] = defaultdict(dict)
            for label, objs in todo.items():
                info = model_info(model_for_label(label))
                self._needed_by_foreign_keys(info, objs, needed)
                if first:
                    for m2m_field in info.m2m_fields():
                        self._read_m2m(info, m2m_field, objs, needed)
            first = False
            todo = self._read_dependencies(needed)
            for label, objs in todo.items():
                added[label].update(objs)
        return added

    @staticmethod
    def _need(needed: dict, model: type[models.Model], pairs: Iterable[tuple[str, int]]) -> None:
        """Record that objects of ``model`` (source pk, due position) are needed, each at its earliest."""
        wanted = needed[model]
        for source_pk, due in pairs:
            earlier = wanted.get(source_pk)
            if earlier is None or due < earlier:
                wanted[source_pk] = due

    def _needed_by_foreign_keys(self, info: ModelInfo, objs: dict[str, models.Model], needed: dict) -> None:
        order, label = self.order, info.label
        for fk in info.foreign_keys:
            attname = fk.attname
            self._need(
                needed,
                related_model(fk),
                (
                    (str(value), order[(label, p)])
                    for p, obj in objs.items()
                    if (value := obj.__dict__[attname]) is not None
                ),
            )

    def _read_m2m(
        self, info: ModelInfo, m2m_field: models.ManyToManyField, objs: dict[str, models.Model], needed: dict
    ) -> None:
        through = through_model(m2m_field)
        src = field_named(through, m2m_field.m2m_field_name())
        dst = field_named(through, m2m_field.m2m_reverse_field_name())
        manager = through._base_manager.using(self.ctx.source)
        rows: list[tuple[str, str, models.Model | None]] = []
        for chunk in chunks(info.pk_value(p) for p in objs):
            queryset = manager.filter(column_in(through, src, chunk, self.ctx.source))
            if through._meta.auto_created:
                rows.extend((str(a), str(b), None) for a, b in queryset.values_list(src.attname, dst.attname))
            else:
                rows.extend((str(getattr(r, src.attname)), str(getattr(r, dst.attname)), r) for r in queryset)
        self.m2m.append(M2MCopy(info, m2m_field, list(objs), rows))
        order, label = self.order, info.label
        self._need(
            needed,
            related_model(m2m_field),
            ((related, order[(label, owner)]) for owner, related, _r in rows),
        )
        for fk in model_info(through).foreign_keys:
            if fk.attname not in (src.attname, dst.attname):  # e.g. an FK to a model nobody watches
                self._need(
                    needed,
                    related_model(fk),
                    (
                        (str(value), order[(label, owner)])
                        for owner, _related, row in rows
                        if (value := getattr(row, fk.attname)) is not None
                    ),
                )

    def _read_dependencies(self, needed: dict) -> dict[str, dict[str, models.Model]]:
        """Find or read the needed objects; returns those without a copy (to write, and to follow)."""
        todo: dict[str, dict[str, models.Model]] = {}
        for related, wanted in needed.items():
            info = model_info(related)
            label = info.label
            pks = [
                p
                for p in wanted
                if p not in self.source.to_write[label] and not self.identity.knows(label, p)
            ]
            rest = self.resolver.resolve_without_objects(info, pks)
            if not rest:
                continue
            objs = self.source.load(info, rest, self.ctx.source)
            lost = [p for p in rest if p not in objs]
            if lost:
                raise SyncError(
                    _(
                        "%(model)s %(pk)r is referenced by a synchronized object but exists "
                        "neither on %(source)r nor on %(target)r"
                    )
                    % {"model": label, "pk": lost[0], "source": self.ctx.source, "target": self.ctx.target}
                )
            self.resolver.resolve_by_natural_key(info, rest)
            absent = {p: objs[p] for p in rest if not self.identity.knows(label, p)}
            for p in absent:
                self.order[(label, p)] = wanted[p]
            if absent:
                self.source.to_write[label].update(absent)
                todo[label] = absent
        return todo
