# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Order-faithful replay of one batch: when each object is written, deleted or parked on the target.

LOCAL went only through valid states, in the order of its log. The log says which objects
changed, not how, so every object is written once with its current values, at its last
entry of the batch; a deleted one is deleted at its deletion (an object deleted and
created again with the same pk is deleted there, then created). Going through the batch
in that order, an operation the target would refuse at that point first runs what stands
in its way, as LOCAL must have done before it:

* a write needs its foreign-key targets: they are written first;
* a write takes a unique value that another row still holds: that row is written (or
  deleted) first. A row outside the batch that is the copy of a source object is brought
  to that object's current state (written, or deleted when it is gone); a row that is the
  copy of nothing stops the batch (:class:`~synchro.results.ChangeFailed`) before anything
  is written;
* a deletion waits until the copies pointing at it through ``PROTECT``/``RESTRICT``, or
  through ``CASCADE`` while their source objects live on, are moved (written) or deleted.

Where two operations wait for each other (objects exchanging unique values, a foreign-key
cycle) one object is parked: a temporary unique value or a NULL foreign key, written
without signals and replaced by its final values later in the batch, as LOCAL did with its
own temporary values. Nothing else is reordered against the log: every operation records
the earlier ones it depends on, and steps (one kind, one model, written in one go) are
formed only where that keeps each operation after what it depends on.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models
from django.utils.translation import gettext as _

from .context import SyncContext
from .referrers import incoming, pointing
from .resolve import IdentityMap, Resolver
from .results import ChangeFailed
from .schema import ModelInfo, model_info, related_model
from .uniques import UniqueValue, holders, normalizer, parking_field, temporary_value

ObjectKey = tuple[str, str]  # (model label, source pk)
Slot = tuple[str, int]  # (model label, index of a unique set in ModelInfo.uniques)
RowKey = tuple[str, Any]  # (model label, target pk or New): a row of the target

WRITE, DELETE, PARK = "write", "delete", "park"
PENDING, ACTIVE, DONE = 0, 1, 2


@dataclass(frozen=True)
class New:
    """Stands for the copy a write of this batch creates (its target pk is not known yet)."""

    label: str
    source_pk: str


@dataclass(frozen=True)
class CopyOf:
    """A value to write that is the target pk of an object's copy (known once it exists)."""

    label: str
    source_pk: str


@dataclass
class ObjectWrite:
    """One source object to copy to the target (created, or written over its copy)."""

    source_pk: str
    obj: models.Model
    deferred: tuple[models.Field, ...] = ()  # FKs written NULL first, filled in after every step (cycles)
    added: bool = False  # logged as added: over an existing copy with the same pk it overwrites all
    completes: bool = False  # the final values of a copy created earlier in the batch (not counted)


@dataclass
class Parking:
    """Values a row holds for a while (written without signals) until its final write or deletion."""

    target_pk: Any
    values: dict[str, Any]  # attname -> value; a CopyOf stands for the pk of that copy


@dataclass
class Step:
    """Operations of one kind on one model that are written together."""

    kind: str  # WRITE, DELETE or PARK
    info: ModelInfo
    writes: list[ObjectWrite] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)  # source pks
    parkings: list[Parking] = field(default_factory=list)


@dataclass(eq=False)
class Op:
    """One operation of the replay, and the earlier ones it must follow."""

    kind: str
    info: ModelInfo
    source_pk: str
    position: int  # the log position it belongs to
    write: ObjectWrite | None = None
    parking: Parking | None = None
    state: int = PENDING
    after: list[Op] = field(default_factory=list)
    values: dict[int, UniqueValue | None] = field(default_factory=dict)  # unique values it writes
    step: int = -1
    fks_done: bool = False  # a write whose foreign-key targets are settled (it waits for unique values)

    @property
    def key(self) -> ObjectKey:
        return (self.info.label, self.source_pk)


@dataclass
class Pulled:
    """A source object outside the batch whose copy is in the way: its current state."""

    writes: list[tuple[ModelInfo, ObjectWrite, int]] = field(default_factory=list)  # it, then its FK targets
    gone: bool = False  # it no longer exists on the source
    foreign: bool = False  # the row is not the copy of any source object after all


class Source(Protocol):
    def pull(self, info: ModelInfo, source_pk: str, position: int) -> Pulled:
        """Read a source object outside the batch (and the FK targets it needs written)."""
        ...


Needs = Generator[Op, bool | None, None]


class Replay:
    """Orders one batch's operations (see the module docstring) into :class:`Step` objects."""

    def __init__(
        self,
        ctx: SyncContext,
        identity: IdentityMap,
        resolver: Resolver,
        source: Source,
        kept_remote: set[ObjectKey],
    ) -> None:
        self.ctx = ctx
        self.identity = identity
        self.resolver = resolver
        self.source = source
        self.kept_remote = kept_remote  # objects whose target version won a conflict: left alone
        self.normal = normalizer(ctx.target)
        self.ops: dict[ObjectKey, list[Op]] = {}
        self.dead: set[ObjectKey] = set()  # copies deleted by the replay
        self.new: dict[ObjectKey, New] = {}  # copies created by the replay
        self.owner: dict[tuple[str, Any], str | None] = {}  # target row -> source pk of its object
        self.held: dict[Slot, dict[UniqueValue, Any]] = defaultdict(dict)  # value -> target row
        self.value_of: dict[Slot, dict[Any, UniqueValue]] = defaultdict(dict)  # target row -> value
        self.settled: set[tuple[str, Any]] = set()  # rows whose unique values the replay knows
        self.settled_by: dict[tuple[str, Any], Op] = {}  # such a row -> the last op that wrote or deleted it
        self.released: dict[tuple[Slot, UniqueValue], Op] = {}  # who gave a value up last
        self.created: dict[ObjectKey, Op] = {}
        # copy to delete -> the rows pointing at it -> their FKs that do, by attname
        self.referrers: dict[RowKey, dict[RowKey, dict[str, models.ForeignKey]]] = defaultdict(dict)
        self.points_at: dict[RowKey, set[RowKey]] = defaultdict(set)  # row -> copies to delete
        self.moved_off: dict[tuple[str, Any], list[Op]] = defaultdict(list)  # copy -> ops that moved off it
        self.last: dict[ObjectKey, Op] = {}  # the last operation placed for each object
        self.steps: list[Step] = []
        self.last_step: dict[tuple[str, str], int] = {}

    # -- what the batch holds

    def add_write(
        self, info: ModelInfo, write: ObjectWrite, position: int, deleted_at: int | None = None
    ) -> None:
        """Write ``write`` at ``position``; ``deleted_at``: it was deleted there first (same pk again)."""
        key = (info.label, write.source_pk)
        ops = self.ops.setdefault(key, [])
        if self.identity.knows(*key):
            self.owner[(info.label, self.identity.targets[info.label][write.source_pk])] = write.source_pk
            if deleted_at is not None:
                ops.append(Op(DELETE, info, write.source_pk, deleted_at))
        ops.append(Op(WRITE, info, write.source_pk, position, write=write))

    def add_delete(self, info: ModelInfo, source_pk: str, position: int) -> None:
        """Delete the copy of ``source_pk`` (if it has one) at ``position``."""
        key = (info.label, source_pk)
        if not self.identity.knows(*key):
            return
        self.owner[(info.label, self.identity.targets[info.label][source_pk])] = source_pk
        self.ops.setdefault(key, []).append(Op(DELETE, info, source_pk, position))

    def replay(self) -> list[Step]:
        order = sorted((op for ops in self.ops.values() for op in ops), key=lambda op: op.position)
        self._look_up(order)
        for op in order:
            self._run(op)
        return self.steps

    # -- the target's state, as far as the batch needs it

    def _row(self, key: ObjectKey) -> Any:
        """The target row of an object's copy (a New one: created by this batch), or None."""
        if key in self.new:
            return self.new[key]
        if key in self.dead:
            return None
        return self.identity.targets[key[0]].get(key[1])

    def _exists(self, key: ObjectKey) -> bool:
        """Whether the object has a copy on the target at this point of the replay."""
        return key in self.new or (key not in self.dead and self.identity.knows(*key))

    def _live(self, key: ObjectKey) -> bool:
        """Whether the object's copy exists now and stays (no deletion of it is pending)."""
        return self._exists(key) and not any(
            op.kind == DELETE and op.state != DONE for op in self.ops.get(key, ())
        )

    def _pending(self, key: ObjectKey) -> Op | None:
        for op in self.ops.get(key, ()):
            if op.state != DONE:
                return op
        return None

    def _value(
        self, info: ModelInfo, obj: models.Model, fields: Iterable[models.Field], deferred=()
    ) -> UniqueValue | None:
        """The value of a unique set as the target will hold it (FKs as target rows), or None (NULL)."""
        values = obj.__dict__
        parts = []
        for f in fields:
            value = values[f.attname]
            if value is None or f in deferred:
                return None
            if f in info.foreign_keys:  # the target's pk of what it points at
                value = self._row((related_model(f)._meta.label_lower, str(value)))
                if value is None:
                    return None
            parts.append(value)
        return self.normal(tuple(parts))

    def _look_up(self, ops: Iterable[Op]) -> None:
        """Read from the target who holds the unique values the writes take, what points at the
        copies to delete, and which source objects those rows are the copies of."""
        claims: dict[Slot, set[UniqueValue]] = defaultdict(set)
        deleted: dict[str, list[Any]] = defaultdict(list)
        infos: dict[str, ModelInfo] = {}
        for op in ops:
            infos[op.info.label] = op.info
            if op.kind == WRITE:
                for u, fields in enumerate(op.info.uniques):
                    value = self._value(op.info, op.write.obj, fields)
                    if value is not None:
                        claims[(op.info.label, u)].add(value)
            elif op.kind == DELETE:
                deleted[op.info.label].append(self._row(op.key))
        unknown: dict[str, set[Any]] = defaultdict(set)
        target = self.ctx.target
        for (label, u), values in claims.items():
            info = infos[label]
            fields = info.uniques[u]
            # (a value naming a copy this batch creates cannot be held by anyone yet)
            fresh = [
                v for v in values if v not in self.held[(label, u)] and not any(isinstance(x, New) for x in v)
            ]
            for row, value in holders(target, info.model, fields, fresh):
                value = self.normal(value)
                if (label, row) in self.settled:
                    # The replay has rewritten or deleted it already: the value is free after that.
                    self._freed((label, u), value, self.settled_by.get((label, row)))
                    continue
                self.held[(label, u)][value] = row
                self.value_of[(label, u)][row] = value
                if (label, row) not in self.owner:
                    unknown[label].add(row)
        for label, rows in deleted.items():
            for fk in incoming(infos[label].model):
                ref_label = fk.model._meta.label_lower
                for row, points_at in pointing(target, fk, rows):
                    if (ref_label, row) in self.settled:
                        continue
                    self.referrers[(label, points_at)].setdefault((ref_label, row), {})[fk.attname] = fk
                    self.points_at[(ref_label, row)].add((label, points_at))
                    infos.setdefault(ref_label, model_info(fk.model))
                    if (ref_label, row) not in self.owner:
                        unknown[ref_label].add(row)
        for label, strangers in unknown.items():
            found = self.resolver.sources_of(infos[label], strangers)
            for row in strangers:
                self.owner[(label, row)] = found.get(row)

    # -- running operations, each after what it needs

    def _run(self, root: Op) -> None:
        if root.state != PENDING:
            return
        root.state = ACTIVE
        stack: list[tuple[Op, Needs]] = [(root, self._needs(root))]
        reply: bool | None = None
        while stack:
            op, needs = stack[-1]
            try:
                need = needs.send(reply)
            except StopIteration:
                stack.pop()
                self._emit(op)
                reply = True
                continue
            if need.state == PENDING:
                need.state = ACTIVE
                stack.append((need, self._needs(need)))
                reply = None
            else:  # done (go on), or waiting further down the stack (a cycle: False)
                reply = need.state == DONE

    def _needs(self, op: Op) -> Needs:
        return self._write_needs(op) if op.kind == WRITE else self._delete_needs(op)

    def _write_needs(self, op: Op) -> Needs:
        info, write, key = op.info, op.write, op.key
        assert write is not None
        for earlier in self.ops[key]:  # a deletion of the same pk comes first
            if earlier is op:
                break
            if earlier.state != DONE:
                yield earlier
        values = write.obj.__dict__
        deferred: list[models.Field] = []
        for fk in info.foreign_keys:
            value = values[fk.attname]
            if value is None:
                continue
            target = (related_model(fk)._meta.label_lower, str(value))
            while not self._live(target):
                need = self._pending(target)
                if need is None:
                    raise self._failure(
                        op,
                        _("it points at %(model)s %(pk)r, which has no copy on %(target)r")
                        % {"model": target[0], "pk": target[1], "target": self.ctx.target},
                    )
                if not (yield need):  # a cycle
                    if self._create_early(need, target):
                        continue  # it exists now, with temporary values where others still hold its own
                    if not fk.null:
                        raise self._failure(
                            op,
                            _(
                                "%(model)s %(pk)r is part of a foreign-key cycle through the non-nullable "
                                "field %(field)r; it cannot be created on %(target)r"
                            )
                            % {"model": key[0], "pk": key[1], "field": fk.name, "target": self.ctx.target},
                        )
                    deferred.append(fk)
                    break
            else:
                self._after(op, self.created.get(target))
        write.deferred = tuple(deferred)
        op.fks_done = True
        for u, fields in enumerate(info.uniques):
            value = self._value(info, write.obj, fields, write.deferred)
            op.values[u] = value
            if value is None:
                continue
            slot = (info.label, u)
            while True:
                holder = self.held[slot].get(value)
                if holder is None or holder == self._row(key):
                    break
                need = self._blocker(op, holder, fields)
                if not (yield need):  # the holder waits for this write: park it on a temporary value
                    self._park_unique(op, holder, u)
            self._after(op, self.released.get((slot, value)))

    def _delete_needs(self, op: Op) -> Needs:
        row = (op.info.label, self._row(op.key))
        refs = self.referrers.get(row, {})
        for ref_row, fks in list(refs.items()):
            ref_label, ref_pk = ref_row
            for attname, fk in list(fks.items()):
                ref_info = model_info(fk.model)
                cascade = fk.remote_field.on_delete is models.CASCADE
                while attname in refs.get(ref_row, {}):
                    source_pk = self.owner.get(ref_row)
                    need = self._pending((ref_label, source_pk)) if source_pk is not None else None
                    if need is None and source_pk is not None and (ref_label, source_pk) not in self.ops:
                        need = self._pull(ref_info, source_pk, ref_pk, op)
                    if need is None:  # the copy of nothing, or its object's log does not move it away
                        if cascade:
                            break  # the target's deletion takes it along
                        raise self._protected(op, ref_info, ref_pk, fk)
                    if not (yield need):
                        if need.kind == DELETE and cascade:
                            break
                        self._unhook(op, ref_info, ref_pk, fk, need)
        for before in self.moved_off.get(row, ()):
            self._after(op, before)

    def _blocker(self, op: Op, holder: Any, fields: tuple[models.Field, ...]) -> Op:
        """The operation that frees a unique value ``holder`` (a target row) has, to be run first."""
        info = op.info
        source_pk = self.owner.get((info.label, holder))
        if source_pk is None:
            raise self._unreplayable(op, holder, fields)
        key = (info.label, source_pk)
        if key in self.kept_remote:
            raise self._failure(
                op,
                _(
                    "it needs %(fields)s = %(value)s, which %(model)s %(holder)r holds on %(target)r; "
                    "the version of that object on %(target)r won a conflict and stays"
                )
                % {
                    **self._describe_value(op, fields),
                    "model": info.label,
                    "holder": str(holder),
                    "target": self.ctx.target,
                },
            )
        need = self._pending(key)
        if need is None and key not in self.ops:
            need = self._pull(info, source_pk, holder, op)
        if need is None:
            if key in self.ops:  # replayed already, and it kept the value: both source objects have it
                raise self._failure(
                    op,
                    _(
                        "%(model)s %(pk)r and %(model)s %(other)r both have %(fields)s = %(value)s "
                        "on %(source)r"
                    )
                    % {
                        **self._describe_value(op, fields),
                        "model": info.label,
                        "pk": op.source_pk,
                        "other": source_pk,
                        "source": self.ctx.source,
                    },
                )
            raise self._unreplayable(op, holder, fields)
        return need

    def _pull(self, info: ModelInfo, source_pk: str, row: Any, op: Op) -> Op | None:
        """Bring a source object outside the batch into it: its copy ``row`` is in the way."""
        pulled = self.source.pull(info, source_pk, op.position)
        if pulled.foreign:
            self.owner[(info.label, row)] = None
            return None
        key = (info.label, source_pk)
        self.identity.link(info, source_pk, row, record=False)
        self.owner[(info.label, row)] = source_pk
        keys = [key]
        if pulled.gone:
            self.ops.setdefault(key, []).append(Op(DELETE, info, source_pk, op.position))
        for winfo, write, position in pulled.writes:
            self.add_write(winfo, write, position)
            keys.append((winfo.label, write.source_pk))
        self._look_up([new for k in keys for new in self.ops.get(k, ())])
        return self._pending(key)

    # -- parking a row until its final write

    def _create_early(self, op: Op, key: ObjectKey) -> bool:
        """A cycle runs through the creation ``op`` (waiting for unique values others hold): create
        the copy now, with temporary values where another row still holds its own, as LOCAL
        created it before the values were free. ``op`` then writes the final values. Returns
        whether it did."""
        if op.kind != WRITE or not op.fks_done or self._exists(key):
            return False
        write, info = op.write, op.info
        assert write is not None
        clone = copy.copy(write.obj)
        clone._state = copy.copy(write.obj._state)
        for u, fields in enumerate(info.uniques):
            value = self._value(info, write.obj, fields, write.deferred)
            holder = self.held[(info.label, u)].get(value) if value is not None else None
            if holder is not None:
                parked = parking_field(fields, self.ctx.target)
                if parked is None:
                    return False
                clone.__dict__[parked.attname] = temporary_value(parked, self.ctx.target)
        early = Op(
            WRITE, info, op.source_pk, op.position, write=ObjectWrite(op.source_pk, clone, write.deferred)
        )
        for before in op.after:
            self._after(early, before)
        for u, fields in enumerate(info.uniques):
            early.values[u] = self._value(info, clone, fields, write.deferred)
        self._emit(early)
        write.completes = True
        return True

    def _park_unique(self, op: Op, holder: Any, u: int) -> None:
        """``holder`` waits for ``op``: give its unique value a temporary one (or NULL)."""
        info, fields = op.info, op.info.uniques[u]
        parked = parking_field(fields, self.ctx.target)
        if parked is None:
            raise self._failure(
                op,
                _(
                    "it takes %(fields)s = %(value)s from %(model)s %(holder)r in a cycle that no "
                    "temporary value can break (none of these fields can take one)"
                )
                % {**self._describe_value(op, fields), "model": info.label, "holder": str(holder)},
            )
        source_pk = self.owner[(info.label, holder)]
        assert source_pk is not None
        self._place_parking(
            info, source_pk, holder, {parked.attname: temporary_value(parked, self.ctx.target)}
        )

    def _unhook(self, op: Op, info: ModelInfo, row: Any, fk: models.ForeignKey, waiting: Op) -> None:
        """Row ``row`` must stop pointing at the copy ``op`` deletes, but its own write waits for
        that deletion: point it at its final target if that exists already, else at NULL."""
        value: Any = None
        created = None
        if waiting.kind == WRITE:
            final = waiting.write.obj.__dict__[fk.attname]
            target = (related_model(fk)._meta.label_lower, str(final)) if final is not None else None
            if target is not None and target != op.key and not self._live(target):
                need = self._pending(target)
                if need is not None and need.state == ACTIVE:
                    self._create_early(need, target)
            if target is not None and target != op.key and self._live(target):
                value, created = CopyOf(*target), self.created.get(target)
        if value is None and not fk.null:
            raise self._failure(
                op,
                _(
                    "%(model)s %(pk)r must leave it first through the non-nullable field %(field)r, "
                    "and cannot before it is deleted (a cycle)"
                )
                % {"model": info.label, "pk": waiting.source_pk, "field": fk.name},
            )
        self._place_parking(info, waiting.source_pk, row, {fk.attname: value}, created)

    def _place_parking(
        self, info: ModelInfo, source_pk: str, row: Any, values: dict[str, Any], after: Op | None = None
    ) -> None:
        key = (info.label, source_pk)
        op = Op(PARK, info, source_pk, 0, parking=Parking(row, values), state=DONE)
        self._after(op, after)
        self._after(op, self.last.get(key))
        for u, fields in enumerate(info.uniques):
            if any(f.attname in values for f in fields):
                self._release((info.label, u), row, op)
        here = (info.label, row)
        for doomed in list(self.points_at.get(here, ())):
            for attname in list(self.referrers[doomed].get(here, {})):
                if attname in values:
                    self._unpoint(doomed, here, attname, op)
        self._place(op)
        self.last[key] = op

    # -- the effects of an operation on the target, and its place

    def _emit(self, op: Op) -> None:
        key, label = op.key, op.info.label
        self._after(op, self.last.get(key))
        if op.kind == WRITE:
            write = op.write
            assert write is not None
            row = self._row(key)
            if row is None:
                row = self.new[key] = New(*key)
                self.dead.discard(key)
                self.created[key] = op
                self.owner[(label, row)] = key[1]
            for u, value in op.values.items():
                slot = (label, u)
                if self.value_of[slot].get(row) != value:
                    self._release(slot, row, op)
                if value is not None:
                    self.held[slot][value] = row
                    self.value_of[slot][row] = value
            self.settled.add((label, row))
            self.settled_by[(label, row)] = op
            here = (label, row)
            for doomed in list(self.points_at.get(here, ())):
                for attname, fk in list(self.referrers[doomed].get(here, {}).items()):
                    if fk not in op.info.foreign_keys:
                        continue  # in SYNCHRO_SKIP: the write leaves it as it is
                    final = write.obj.__dict__[attname]
                    now = (
                        None
                        if final is None or fk in write.deferred
                        else self._row((related_model(fk)._meta.label_lower, str(final)))
                    )
                    if now != doomed[1]:
                        self._unpoint(doomed, here, attname, op)
        else:
            row = self._row(key)
            self.dead.add(key)
            self._gone(label, row, op)
            for ref_row, fks in self.referrers.pop((label, row), {}).items():
                self.points_at[ref_row].discard((label, row))
                if any(fk.remote_field.on_delete is models.CASCADE for fk in fks.values()):
                    self._gone(*ref_row, op)  # the target deletes it along
        op.state = DONE
        self._place(op)
        self.last[key] = op

    def _gone(self, label: str, row: Any, op: Op) -> None:
        """Row ``row`` is deleted by ``op``: its unique values are free, it points at nothing."""
        for slot in [s for s in self.value_of if s[0] == label]:
            self._release(slot, row, op)
        self.settled.add((label, row))
        self.settled_by[(label, row)] = op
        for doomed in self.points_at.pop((label, row), set()):
            self.referrers[doomed].pop((label, row), None)
            self.moved_off[doomed].append(op)

    def _release(self, slot: Slot, row: Any, op: Op) -> None:
        old = self.value_of[slot].pop(row, None)
        if old is not None:
            if self.held[slot].get(old) == row:
                del self.held[slot][old]
            self.released[(slot, old)] = op

    def _freed(self, slot: Slot, value: UniqueValue, op: Op | None) -> None:
        """A row the replay no longer leaves with ``value`` held it on the target until ``op``:
        a later write of ``value`` comes after ``op`` (the latest such op, if several)."""
        if op is None:
            return
        known = self.released.get((slot, value))
        if known is None or op.step > known.step:
            self.released[(slot, value)] = op

    def _unpoint(self, doomed: RowKey, ref_row: RowKey, attname: str, op: Op) -> None:
        """After ``op``, row ``ref_row`` no longer points at copy ``doomed`` through ``attname``."""
        fks = self.referrers[doomed].get(ref_row)
        if fks is None or attname not in fks:
            return
        del fks[attname]
        if not fks:
            del self.referrers[doomed][ref_row]
            self.points_at[ref_row].discard(doomed)
        self.moved_off[doomed].append(op)

    @staticmethod
    def _after(op: Op, other: Op | None) -> None:
        if other is not None and other is not op:
            op.after.append(other)

    def _place(self, op: Op) -> None:
        """Put ``op`` in the last step of its kind and model if that comes after everything it
        depends on, else in a new step at the end."""
        floor = max((before.step for before in op.after), default=-1)
        group = (op.kind, op.info.label)
        index = self.last_step.get(group)
        if index is None or index <= floor:
            index = len(self.steps)
            self.steps.append(Step(op.kind, op.info))
            self.last_step[group] = index
        op.step = index
        step = self.steps[index]
        if op.kind == WRITE:
            assert op.write is not None
            step.writes.append(op.write)
        elif op.kind == DELETE:
            step.deletions.append(op.source_pk)
        else:
            assert op.parking is not None
            step.parkings.append(op.parking)

    # -- errors

    def _failure(self, op: Op, message: str) -> ChangeFailed:
        return ChangeFailed(op.info.label, op.source_pk, message)

    def _describe_value(self, op: Op, fields: tuple[models.Field, ...]) -> dict[str, str]:
        assert op.write is not None
        values = tuple(op.write.obj.__dict__[f.attname] for f in fields)
        if len(fields) == 1:
            return {"fields": fields[0].name, "value": repr(values[0])}
        return {"fields": "(" + ", ".join(f.name for f in fields) + ")", "value": repr(values)}

    def _unreplayable(self, op: Op, holder: Any, fields: tuple[models.Field, ...]) -> ChangeFailed:
        info = op.info
        row = info.model._base_manager.using(self.ctx.target).filter(pk=holder).first()
        return ChangeFailed(
            info.label,
            op.source_pk,
            _(
                "%(model)s %(pk)r (%(object)s) on %(source)r cannot take %(fields)s = %(value)s on "
                "%(target)r: %(model)s %(holder)r (%(other)s) holds it there and is the copy of no "
                "object of %(source)r. Nothing of this batch was written; change or delete that row "
                "on %(target)r, or the value on %(source)r, then synchronize again"
            )
            % {
                **self._describe_value(op, fields),
                "model": info.label,
                "pk": op.source_pk,
                "object": _text(op.write.obj if op.write else None),
                "source": self.ctx.source,
                "target": self.ctx.target,
                "holder": str(holder),
                "other": _text(row),
            },
        )

    def _protected(self, op: Op, info: ModelInfo, row: Any, fk: models.ForeignKey) -> ChangeFailed:
        obj = info.model._base_manager.using(self.ctx.target).filter(pk=row).first()
        return ChangeFailed(
            op.info.label,
            op.source_pk,
            _(
                "its copy on %(target)r cannot be deleted: %(model)s %(row)r (%(other)s) points at it "
                "through %(field)s (on_delete=%(rule)s), and nothing in the log of %(source)r moves "
                "that row away (it is the copy of no object there, or of one that still points at it). "
                "Nothing of this batch was written; change or delete that row on %(target)r, then "
                "synchronize again"
            )
            % {
                "target": self.ctx.target,
                "source": self.ctx.source,
                "model": info.label,
                "row": str(row),
                "other": _text(obj),
                "field": fk.name,
                "rule": fk.remote_field.on_delete.__name__,
            },
        )


def _text(obj: models.Model | None) -> str:
    if obj is None:
        return "?"
    try:
        return str(obj)
    except Exception:  # a __str__ that needs more than the row
        return "?"
