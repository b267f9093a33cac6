# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Planning one batch: what to delete, what to write in which order, which m2m relations to copy.

The planner only reads (the source, and the target to find copies); the plan it returns is
carried out by :mod:`synchro.write`, or counted by a dry run. Writes are grouped into steps
of one model each. Each step holds objects whose foreign keys point at objects that already
exist on the target or are written by an earlier step, and steps follow the log: the step
holding the earliest logged object comes first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext as _

from .changes import ChangeSet
from .conflicts import find_conflicts
from .context import SyncContext
from .resolve import IdentityMap, Resolver, SourceObjects
from .results import Conflict, SyncError
from .schema import ModelInfo, field_named, model_for_label, model_info, related_model, through_model
from .sql import chunks, column_in

ObjectKey = tuple[str, str]  # (model label, source pk)


@dataclass
class ObjectWrite:
    """One source object to copy to the target (created, or written over its copy)."""

    source_pk: str
    obj: models.Model
    deferred: tuple[models.Field, ...] = ()  # FKs written NULL first, filled in after every step (cycles)
    added: bool = False  # logged as added: over an existing copy with the same pk it overwrites all


@dataclass
class WriteStep:
    info: ModelInfo
    writes: list[ObjectWrite]


@dataclass
class M2MCopy:
    """The whole relation ``field`` of some source objects, as it is on the source."""

    info: ModelInfo  # the model that declares the field
    field: models.ManyToManyField
    owners: list[str]  # source pks
    rows: list[tuple[str, str, models.Model | None]]  # (owner pk, related pk, explicit through row)


@dataclass
class Plan:
    deletions: list[tuple[ModelInfo, list[str]]] = field(default_factory=list)
    steps: list[WriteStep] = field(default_factory=list)
    m2m: list[M2MCopy] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # The target's own log entries (object ids per label) this batch overwrites.
    superseded: dict[str, list[str]] = field(default_factory=dict)


class Planner:
    """Reads what a batch needs and returns its :class:`Plan` (see the module docstring)."""

    def __init__(self, ctx: SyncContext, changes: ChangeSet) -> None:
        self.ctx = ctx
        self.changes = changes
        self.source = SourceObjects()
        self.identity = IdentityMap()
        self.resolver = Resolver(ctx, self.identity, self.source)
        self.order: dict[ObjectKey, int] = {}  # write order: the log position an object is due to
        self.m2m: list[M2MCopy] = []

    def plan(self) -> Plan:
        self._read_logged()
        conflicts, superseded = self._settle_conflicts()
        self._add_dependencies()
        return Plan(
            deletions=[
                (model_info(model_for_label(label)), list(entries))
                for label, entries in self.source.deleted.items()
                if entries
            ],
            steps=self._order_writes(),
            m2m=self.m2m,
            conflicts=conflicts,
            superseded=superseded,
        )

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
        return conflicts, dict(superseded)

    # -- what it depends on

    def _add_dependencies(self) -> None:
        """Add every object a written object points at (FK, m2m, FK of an m2m row) that has no copy yet."""
        todo = {label: dict(objs) for label, objs in self.source.to_write.items() if objs}
        first = True
        while todo:
            needed: dict[type[models.Model], dict[str, int]] = defaultdict(dict)
            for label, objs in todo.items():
                info = model_info(model_for_label(label))
                self._needed_by_foreign_keys(info, objs, needed)
                if first:  # m2m relations are copied for logged objects only
                    for m2m_field in info.m2m_fields():
                        self._read_m2m(info, m2m_field, objs, needed)
            first = False
            todo = self._read_dependencies(needed)

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

    # -- in which order

    def _order_writes(self) -> list[WriteStep]:
        infos = {label: model_info(model_for_label(label)) for label in self.source.to_write}
        remaining = {
            (label, p): self.order[(label, p)] for label, objs in self.source.to_write.items() for p in objs
        }
        # Per object, its FKs that point at objects without a copy on the target yet.
        pointing: dict[ObjectKey, list[tuple[models.Field, ObjectKey]]] = {}
        targets = self.identity.targets
        for label, objs in self.source.to_write.items():
            fks = [(fk, fk.attname, related_model(fk)._meta.label_lower) for fk in infos[label].foreign_keys]
            for p, obj in objs.items():
                values = obj.__dict__
                pointing[(label, p)] = [
                    (fk, (related, str(value)))
                    for fk, attname, related in fks
                    if (value := values[attname]) is not None and str(value) not in targets[related]
                ]
        written: set[ObjectKey] = set()

        def open_fks(key: ObjectKey) -> list[models.Field]:
            return [fk for fk, target in pointing[key] if target not in written]

        steps: list[WriteStep] = []
        while remaining:
            ready: list[tuple[int, ObjectKey, tuple[models.Field, ...]]] = [
                (due, key, ())
                for key, due in remaining.items()
                if not pointing[key] or all(target in written for _fk, target in pointing[key])
            ]
            if not ready:
                ready = [self._break_cycle(remaining, open_fks)]
            ready.sort(key=lambda item: item[0])
            groups: dict[str, list[ObjectWrite]] = {}
            for _due, key, deferred in ready:
                label, p = key
                entry = self.changes.objects.get(label, {}).get(p)
                groups.setdefault(label, []).append(
                    ObjectWrite(
                        p, self.source.to_write[label][p], tuple(deferred), bool(entry and entry.added)
                    )
                )
                del remaining[key]
            written.update(key for _due, key, _deferred in ready)
            steps.extend(WriteStep(infos[label], writes) for label, writes in groups.items())
        return steps

    def _break_cycle(
        self, remaining: dict[ObjectKey, int], open_fks: Callable[[ObjectKey], list[models.Field]]
    ) -> tuple[int, ObjectKey, tuple[models.Field, ...]]:
        """A foreign-key cycle: write one object whose open FKs can be NULL for now."""
        candidates = sorted(remaining, key=lambda key: (remaining[key], key))
        for key in candidates:
            unresolved = open_fks(key)
            if all(fk.null for fk in unresolved):
                return remaining[key], key, tuple(unresolved)
        label, p = candidates[0]
        raise SyncError(
            _(
                "%(model)s %(pk)r is part of a foreign-key cycle through the non-nullable "
                "field %(field)r; it cannot be created on %(target)r"
            )
            % {"model": label, "pk": p, "field": open_fks(candidates[0])[0].name, "target": self.ctx.target}
        )
