# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined,index,arg-type,list-item"
"""One batch of logged objects applied to the target: lookups, dependencies, writes.

Everything here runs inside the transaction the engine opened on the target.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import DatabaseError, connections, models
from django.db.models import Max
from django.db.models.signals import post_save, pre_save
from django.utils.translation import gettext as _

from .handlers import DisableSynchroLog
from .natural import find_by_natural_keys
from .results import Conflict, Summary, SyncError
from .settings import synchro_settings

if TYPE_CHECKING:
    from .engine import Synchronizer


def _is_auto(model: type[models.Model]) -> bool:
    return isinstance(model._meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField)


def _skip(model: type[models.Model]) -> frozenset[str]:
    return frozenset(getattr(model, "SYNCHRO_SKIP", ()) or ())


def _fk_fields(model: type[models.Model]) -> list[models.Field]:
    skip = _skip(model)
    return [
        f
        for f in model._meta.concrete_fields
        if f.is_relation and not f.primary_key and f.name not in skip and f.target_field.primary_key
    ]


def _copy_fields(model: type[models.Model]) -> list[models.Field]:
    skip = _skip(model)
    return [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in skip]


def _m2m_fields(model: type[models.Model]) -> list[models.ManyToManyField]:
    skip = _skip(model)
    return [
        f
        for f in model._meta.many_to_many
        if f.name not in skip
        and not (
            not f.remote_field.through._meta.auto_created
            and synchro_settings.is_watched(f.remote_field.through)
        )
    ]


def _to_python(model: type[models.Model], value: str) -> Any:
    return model._meta.pk.to_python(value)


def node_id(alias: str, create: bool = True) -> str:
    """The identity of database ``alias`` (a UUID stored in its ``synchro_node`` table)."""
    from .models import Node

    try:
        node = Node.objects.using(alias).order_by("created", "id").first()
        if node is None:
            if not create:
                return "unsaved"
            node = Node.objects.using(alias).create()
    except DatabaseError as exc:
        raise SyncError(
            _(
                "synchro's tables are missing or unreadable on database %(alias)r (%(error)s); "
                "run: manage.py migrate synchro --database=%(alias)s"
            )
            % {"alias": alias, "error": exc}
        ) from exc
    return str(node.id)


def _decide(conflict: Conflict) -> str:
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


@dataclass
class Entry:
    last_id: int
    date: datetime.datetime
    natural_key: list[Any] | None = None


class Batch:
    """Applies a group of logged objects to the target inside the caller's transaction."""

    def __init__(self, sync: Synchronizer, groups: dict[str, dict[str, Entry]]) -> None:
        self.sync = sync
        self.S = sync.source
        self.T = sync.target
        self.groups = groups
        self.summary = Summary(direction=sync.direction, dry_run=sync.dry_run)
        self.map: dict[str, dict[str, Any]] = defaultdict(dict)
        self.missing: dict[str, set[str]] = defaultdict(set)
        self.found_by_key: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        self.pending: dict[str, dict[str, models.Model]] = defaultdict(dict)
        self.deletions: dict[str, dict[str, Entry]] = defaultdict(dict)
        self.m2m_rows: dict[tuple[str, str], tuple[list[str], list[Any]]] = {}
        self.new_refs: list[tuple[str, Any, str]] = []
        self.superseded: dict[str, list[str]] = defaultdict(list)
        self.deferred: list[tuple[models.Model, models.Field, str]] = []
        self.models: dict[str, type[models.Model]] = {}
        self.loaded: dict[str, dict[str, models.Model]] = defaultdict(dict)

    # -- lookups

    def model(self, label: str) -> type[models.Model]:
        model = self.models.get(label)
        if model is None:
            try:
                model = apps.get_model(label)
            except LookupError:
                raise SyncError(
                    _("the log names model %(model)r, which is not installed") % {"model": label}
                ) from None
            self.models[label] = model
        return model

    def resolve(self, model: type[models.Model], src_pks: Iterable[str]) -> None:
        """Find which of ``src_pks`` exist on the target; fills ``self.map[label]``."""
        label = model._meta.label_lower
        known = self.map[label]
        todo = [p for p in dict.fromkeys(src_pks) if p not in known and p not in self.missing[label]]
        if not todo:
            return
        manager = model._base_manager.using(self.T)
        if not _is_auto(model):
            values = {p: _to_python(model, p) for p in todo}
            found = {
                str(v) for v in manager.filter(pk__in=list(values.values())).values_list("pk", flat=True)
            }
            for p in todo:
                if str(values[p]) in found:
                    known[p] = values[p]
                else:
                    self.missing[label].add(p)
            return
        from .models import Reference

        candidates: dict[str, Any] = {}
        for chunk in _chunks(todo, 500):
            for object_id, peer_object_id in (
                Reference.objects.using(self.T)
                .filter(peer=self.sync.source_node, model=label, peer_object_id__in=chunk)
                .values_list("object_id", "peer_object_id")
            ):
                candidates[peer_object_id] = _to_python(model, object_id)
        rest = [p for p in todo if p not in candidates]
        for chunk in _chunks(rest, 500):
            for object_id, peer_object_id in (
                Reference.objects.using(self.S)
                .filter(peer=self.sync.target_node, model=label, object_id__in=chunk)
                .values_list("object_id", "peer_object_id")
            ):
                candidates[object_id] = _to_python(model, peer_object_id)
        if candidates:  # a reference may point at an object deleted on the target since
            alive = set(manager.filter(pk__in=list(candidates.values())).values_list("pk", flat=True))
            stale = [p for p, t in candidates.items() if t not in alive]
            if stale:
                Reference.objects.using(self.T).filter(
                    peer=self.sync.source_node, model=label, peer_object_id__in=stale
                ).delete()
            for p, t in candidates.items():
                if t in alive:
                    known[p] = t
        rest = [p for p in todo if p not in known]
        if rest and hasattr(model, "natural_key") and hasattr(model._default_manager, "get_by_natural_key"):
            keys = {p: k for p in rest if (k := self.natural_key(model, p)) is not None}
            for p, target_pk in find_by_natural_keys(model, self.T, keys).items():
                known[p] = target_pk
                self.found_by_key[label].append((p, target_pk))
        for p in todo:
            if p not in known:
                self.missing[label].add(p)

    def natural_key(self, model: type[models.Model], src_pk: str) -> tuple[Any, ...] | None:
        label = model._meta.label_lower
        obj = self.pending[label].get(src_pk) or self.loaded[label].get(src_pk)
        if obj is not None:
            key = obj.natural_key()
            return tuple(key) if isinstance(key, (list, tuple)) else (key,)
        entry = self.deletions[label].get(src_pk)
        if entry is not None and entry.natural_key is not None:
            return tuple(entry.natural_key)
        return None

    # -- the steps

    def run(self) -> Summary:
        with DisableSynchroLog():
            self.load_logged()
            self.check_conflicts()
            self.collect_dependencies()
            self.delete()
            self.write_objects()
            self.write_m2m()
            self.write_references()
            self.drop_superseded_logs()
        return self.summary

    def load_logged(self) -> None:
        for label, entries in self.groups.items():
            model = self.model(label)
            values = {p: _to_python(model, p) for p in entries}
            objs = model._base_manager.using(self.S).in_bulk(list(values.values()))
            for p, value in values.items():
                obj = objs.get(value)
                if obj is None:
                    self.deletions[label][p] = entries[p]
                else:
                    self.pending[label][p] = obj
            self.resolve(model, entries)

    def check_conflicts(self) -> None:
        from .models import ChangeLog

        for label, entries in self.groups.items():
            model = self.model(label)
            targets = {str(self.map[label][p]): p for p in entries if p in self.map[label]}
            if not targets:
                continue
            rows = (
                ChangeLog.objects.using(self.T)
                .filter(self.sync.unseen_target, model=label, object_id__in=list(targets))
                .values("object_id")
                .annotate(last=Max("date"))
            )
            for row in rows:
                p = targets[row["object_id"]]
                conflict = Conflict(
                    model=model,
                    direction=self.sync.direction,
                    source_pk=p,
                    target_pk=self.map[label][p],
                    source_date=entries[p].date,
                    target_date=row["last"],
                    deletion=p in self.deletions[label],
                )
                conflict.winner = _decide(conflict)
                self.summary.conflicts.append(conflict)
                if conflict.winner == self.sync.source_side:
                    self.superseded[label].append(row["object_id"])
                else:
                    self.pending[label].pop(p, None)
                    self.deletions[label].pop(p, None)

    def collect_dependencies(self) -> None:
        """Add every not-yet-synced object that a pending object points at (FK or m2m)."""
        todo = {label: list(objs.values()) for label, objs in self.pending.items() if objs}
        first = True
        while todo:
            needed: dict[type[models.Model], set[str]] = defaultdict(set)
            for label, objs in todo.items():
                model = self.model(label)
                for f in _fk_fields(model):
                    for obj in objs:
                        value = getattr(obj, f.attname)
                        if value is not None:
                            needed[f.related_model].add(str(value))
                if first:
                    for f in _m2m_fields(model):
                        for related_pk in self.load_m2m(model, f, [o.pk for o in objs]):
                            needed[f.related_model].add(related_pk)
            first = False
            todo = {}
            for related, pks in needed.items():
                label = related._meta.label_lower
                self.models[label] = related
                pks = {p for p in pks if p not in self.pending[label] and p not in self.map[label]}
                if not pks:
                    continue
                values = {p: _to_python(related, p) for p in pks}
                objs = related._base_manager.using(self.S).in_bulk(list(values.values()))
                self.loaded[label].update({p: objs[v] for p, v in values.items() if v in objs})
                self.resolve(related, pks)
                absent = [p for p in pks if p not in self.map[label]]
                lost = [p for p in absent if values[p] not in objs]
                if lost:
                    raise SyncError(
                        _(
                            "%(model)s %(pk)r is referenced by a synchronized object but exists "
                            "neither on %(source)r nor on %(target)r"
                        )
                        % {"model": label, "pk": lost[0], "source": self.S, "target": self.T}
                    )
                for p in absent:
                    self.pending[label][p] = objs[values[p]]
                if absent:
                    todo[label] = [objs[values[p]] for p in absent]

    def load_m2m(
        self, model: type[models.Model], f: models.ManyToManyField, owner_pks: list[Any]
    ) -> list[str]:
        through = f.remote_field.through
        src = through._meta.get_field(f.m2m_field_name()).attname
        dst = through._meta.get_field(f.m2m_reverse_field_name()).attname
        rows: list[Any] = []
        for chunk in _chunks(owner_pks, 500):
            queryset = through._base_manager.using(self.S).filter(**{f"{src}__in": chunk})
            if through._meta.auto_created:
                rows.extend(queryset.values_list(src, dst))
            else:
                rows.extend((getattr(r, src), getattr(r, dst), r) for r in queryset)
        self.m2m_rows[(model._meta.label_lower, f.name)] = ([str(p) for p in owner_pks], rows)
        return [str(r[1]) for r in rows]

    def delete(self) -> None:
        from .models import Reference

        for label, entries in self.deletions.items():
            if not entries:
                continue
            model = self.model(label)
            self.resolve(model, entries)
            targets = [self.map[label][p] for p in entries if p in self.map[label]]
            if targets:
                if self.sync.dry_run:
                    self.summary.deleted += len(targets)
                else:
                    _count, per_model = model._base_manager.using(self.T).filter(pk__in=targets).delete()
                    self.summary.deleted += per_model.get(model._meta.label, 0)
            Reference.objects.using(self.T).filter(
                peer=self.sync.source_node, model=label, peer_object_id__in=list(entries)
            ).delete()

    def _ready(self, label: str, obj: models.Model) -> tuple[bool, list[models.Field]]:
        unresolved = []
        for f in _fk_fields(self.model(label)):
            value = getattr(obj, f.attname)
            if value is not None and str(value) not in self.map[f.related_model._meta.label_lower]:
                unresolved.append(f)
        return not unresolved, unresolved

    def write_objects(self) -> None:
        remaining = {(label, p) for label, objs in self.pending.items() for p in objs}
        while remaining:
            ready: list[tuple[str, str, list[models.Field]]] = []
            for label, p in remaining:
                ok, _unresolved = self._ready(label, self.pending[label][p])
                if ok:
                    ready.append((label, p, []))
            if not ready:  # a cycle: write the objects whose open FKs can be NULL for now
                for label, p in sorted(remaining):
                    _ok, unresolved = self._ready(label, self.pending[label][p])
                    if all(f.null for f in unresolved):
                        ready.append((label, p, unresolved))
                        break
                if not ready:
                    label, p = sorted(remaining)[0]
                    _ok, unresolved = self._ready(label, self.pending[label][p])
                    raise SyncError(
                        _(
                            "%(model)s %(pk)r is part of a foreign-key cycle through the non-nullable "
                            "field %(field)r; it cannot be created on %(target)r"
                        )
                        % {"model": label, "pk": p, "field": unresolved[0].name, "target": self.T}
                    )
            by_label: dict[str, list[tuple[str, list[models.Field]]]] = defaultdict(list)
            for label, p, deferred in ready:
                by_label[label].append((p, deferred))
                remaining.discard((label, p))
            for label, items in by_label.items():
                self.write_model(self.model(label), items)
        self.write_deferred()

    def _target_instance(self, model: type[models.Model], obj: models.Model, deferred: list[models.Field]):
        skip = _skip(model)
        values: list[Any] = []
        for f in model._meta.concrete_fields:
            if f.primary_key:
                values.append(None)
                continue
            if f.name in skip:
                values.append(f.get_default())
                continue
            value = getattr(obj, f.attname)
            if f.is_relation and value is not None and f.target_field.primary_key:
                if f in deferred:
                    self.deferred.append((obj, f, str(value)))
                    value = None
                else:
                    value = self.map[f.related_model._meta.label_lower][str(value)]
            values.append(value)
        return model(*values)

    def write_model(self, model: type[models.Model], items: list[tuple[str, list[models.Field]]]) -> None:
        label = model._meta.label_lower
        creates: list[tuple[str, models.Model]] = []
        updates: list[models.Model] = []
        for p, deferred in items:
            target = self._target_instance(model, self.pending[label][p], deferred)
            if p in self.map[label]:
                target.pk = self.map[label][p]
                target._state.adding = False
                target._state.db = self.T
                updates.append(target)
            else:
                if not _is_auto(model):
                    target.pk = _to_python(model, p)
                creates.append((p, target))
        signals = not self.sync.dry_run
        if creates:
            objs = [t for _p, t in creates]
            if signals:
                for obj in objs:
                    pre_save.send(sender=model, instance=obj, raw=False, using=self.T, update_fields=None)
            if connections[self.T].features.can_return_rows_from_bulk_insert or not _is_auto(model):
                model._base_manager.using(self.T).bulk_create(objs)
            else:
                for obj in objs:
                    obj.save_base(using=self.T, force_insert=True, raw=True)
            for p, obj in creates:
                obj._state.adding = False
                obj._state.db = self.T
                self.map[label][p] = obj.pk
                self.missing[label].discard(p)
                if _is_auto(model):
                    self.new_refs.append((label, obj.pk, p))
            if signals:
                for obj in objs:
                    post_save.send(
                        sender=model, instance=obj, created=True, update_fields=None, raw=False, using=self.T
                    )
            self.summary.added += len(creates)
        if updates:
            names = [f.name for f in _copy_fields(model)]
            if signals:
                for obj in updates:
                    pre_save.send(sender=model, instance=obj, raw=False, using=self.T, update_fields=None)
            if names:
                model._base_manager.using(self.T).bulk_update(updates, names)
            if signals:
                for obj in updates:
                    post_save.send(
                        sender=model, instance=obj, created=False, update_fields=None, raw=False, using=self.T
                    )
            self.summary.changed += len(updates)

    def write_deferred(self) -> None:
        for obj, f, value in self.deferred:
            model = type(obj)
            target_pk = self.map[model._meta.label_lower][str(obj.pk)]
            related = self.map[f.related_model._meta.label_lower][value]
            model._base_manager.using(self.T).filter(pk=target_pk).update(**{f.attname: related})
        self.deferred.clear()

    def write_m2m(self) -> None:
        for (label, name), entry in self.m2m_rows.items():
            model = self.model(label)
            f = model._meta.get_field(name)
            through = f.remote_field.through
            related_label = f.related_model._meta.label_lower
            src = through._meta.get_field(f.m2m_field_name()).attname
            dst = through._meta.get_field(f.m2m_reverse_field_name()).attname
            owner_pks, rows = entry
            owners = [self.map[label][p] for p in owner_pks if p in self.pending[label]]
            wanted: dict[tuple[Any, Any], Any] = {}
            for row in rows:
                if str(row[0]) not in self.pending[label]:
                    continue
                pair = (self.map[label][str(row[0])], self.map[related_label][str(row[1])])
                wanted[pair] = row[2] if len(row) > 2 else None
            manager = through._base_manager.using(self.T)
            existing: dict[tuple[Any, Any], Any] = {}
            for chunk in _chunks(owners, 500):
                for pk, a, b in manager.filter(**{f"{src}__in": chunk}).values_list("pk", src, dst):
                    existing[(a, b)] = pk
            stale = [pk for pair, pk in existing.items() if pair not in wanted]
            extra = [
                x for x in through._meta.concrete_fields if not x.primary_key and x.attname not in (src, dst)
            ]
            if through._meta.auto_created:
                new_pairs = [pair for pair in wanted if pair not in existing]
                if not self.sync.dry_run:
                    if stale:
                        manager.filter(pk__in=stale).delete()
                    if new_pairs:
                        self._insert_pairs(f, new_pairs)
                continue
            new, changed = [], []
            for pair, source_row in wanted.items():
                data = {src: pair[0], dst: pair[1]}
                data.update({x.attname: getattr(source_row, x.attname) for x in extra})
                row = through(**data)
                if pair in existing:
                    if extra:
                        row.pk = existing[pair]
                        changed.append(row)
                else:
                    new.append(row)
            if self.sync.dry_run:
                continue
            if stale:
                manager.filter(pk__in=stale).delete()
            if new:
                manager.bulk_create(new)
            if changed:
                manager.bulk_update(changed, [x.name for x in extra])

    def _insert_pairs(self, f: models.ManyToManyField, pairs: list[tuple[Any, Any]]) -> None:
        through = f.remote_field.through
        src_field = through._meta.get_field(f.m2m_field_name())
        dst_field = through._meta.get_field(f.m2m_reverse_field_name())
        connection = connections[self.T]
        _insert_rows(
            self.T,
            through._meta.db_table,
            [src_field.column, dst_field.column],
            [
                (src_field.get_db_prep_save(a, connection), dst_field.get_db_prep_save(b, connection))
                for a, b in pairs
            ],
        )

    def write_references(self) -> None:
        from .models import Reference

        node = self.sync.source_node
        rows = [(node, label, str(target), p) for label, target, p in self.new_refs]
        for label, found in self.found_by_key.items():
            if _is_auto(self.model(label)):
                rows.extend((node, label, str(t), p) for p, t in found)
        if rows:
            _insert_rows(
                self.T, Reference._meta.db_table, ["peer", "model", "object_id", "peer_object_id"], rows
            )

    def drop_superseded_logs(self) -> None:
        """The target's own changes that this batch overwrote are no longer worth syncing back."""
        from .models import ChangeLog

        for label, object_ids in self.superseded.items():
            ChangeLog.objects.using(self.T).filter(
                self.sync.unseen_target, model=label, object_id__in=object_ids
            )._raw_delete(self.T)


def _insert_rows(alias: str, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """One prepared INSERT run for many rows (much cheaper than ``bulk_create`` for plain tables)."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
