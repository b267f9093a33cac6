# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Finding the target's copy of each source object: kept pks, the pk map, natural keys.

Also holds what a batch read from the source (:class:`SourceObjects`) and what it knows
about the copies (:class:`IdentityMap`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connections, models
from django.utils.translation import gettext as _

from .changes import ObjectChanges
from .context import SyncContext
from .models import Reference
from .natural import find_by_natural_keys
from .results import SyncError
from .schema import ModelInfo
from .sql import chunks, column_in, select_rows


class SourceObjects:
    """The objects a batch read from the source, per model label and source pk."""

    def __init__(self) -> None:
        self.read: dict[str, dict[str, models.Model]] = defaultdict(dict)  # everything read
        self.to_write: dict[str, dict[str, models.Model]] = defaultdict(dict)  # copied to the target
        self.deleted: dict[str, dict[str, ObjectChanges]] = defaultdict(dict)  # logged, gone from the source

    def load(self, info: ModelInfo, source_pks: Iterable[str], alias: str) -> dict[str, models.Model]:
        """Read the objects with these pks from ``alias``; returns those that exist."""
        values = {p: info.pk_value(p) for p in source_pks}
        by_value: dict[Any, models.Model] = {}
        manager = info.model._base_manager.using(alias)
        pk = info.model._meta.pk
        for chunk in chunks(values.values()):
            for obj in manager.filter(column_in(info.model, pk, chunk, alias)):
                by_value[obj.__dict__[pk.attname]] = obj
        found = {p: by_value[v] for p, v in values.items() if v in by_value}
        self.read[info.label].update(found)
        return found

    def natural_key(self, info: ModelInfo, source_pk: str) -> tuple[Any, ...] | None:
        """From the object read, or saved with its deletion; None without one."""
        obj = self.read[info.label].get(source_pk)
        if obj is not None:
            key = obj.natural_key()
            return tuple(key) if isinstance(key, list | tuple) else (key,)
        entry = self.deleted[info.label].get(source_pk)
        if entry is not None and entry.natural_key is not None:
            return tuple(entry.natural_key)
        return None


class IdentityMap:
    """Source pk -> pk of its copy on the target, per model label, as far as a batch knows."""

    def __init__(self) -> None:
        self.targets: dict[str, dict[str, Any]] = defaultdict(dict)
        self.missing: dict[str, set[str]] = defaultdict(set)  # looked for, not on the target
        self.created: dict[str, set[str]] = defaultdict(set)  # copies this batch created
        self.new_references: list[tuple[str, str, str]] = []  # (label, target pk, source pk) to record

    def knows(self, label: str, source_pk: str) -> bool:
        return source_pk in self.targets[label]

    def add_created(self, info: ModelInfo, pairs: list[tuple[str, Any]]) -> None:
        """Copies this batch has just created: (source pk, target pk)."""
        targets, created, missing = (
            self.targets[info.label],
            self.created[info.label],
            self.missing[info.label],
        )
        for source_pk, target_pk in pairs:
            targets[source_pk] = target_pk
            created.add(source_pk)
            missing.discard(source_pk)
        if info.auto_pk:
            self.new_references.extend(
                (info.label, str(target_pk), source_pk) for source_pk, target_pk in pairs
            )

    def forget(self, label: str, source_pks: Iterable[str]) -> None:
        """These copies were deleted."""
        targets, created = self.targets[label], self.created[label]
        for p in source_pks:
            targets.pop(p, None)
            created.discard(p)

    def link(self, info: ModelInfo, source_pk: str, target_pk: Any, *, record: bool) -> None:
        self.targets[info.label][source_pk] = target_pk
        self.missing[info.label].discard(source_pk)
        if record and info.auto_pk:
            self.new_references.append((info.label, str(target_pk), source_pk))


class Resolver:
    """Looks up the copies of source objects on the target, filling an :class:`IdentityMap`."""

    def __init__(self, ctx: SyncContext, identity: IdentityMap, source: SourceObjects) -> None:
        self.ctx = ctx
        self.identity = identity
        self.source = source

    def resolve(self, info: ModelInfo, source_pks: Iterable[str]) -> None:
        """Find the copies of objects the batch has read (or whose deletion it has)."""
        rest = self.resolve_without_objects(info, source_pks)
        self.resolve_by_natural_key(info, rest)

    def resolve_without_objects(self, info: ModelInfo, source_pks: Iterable[str]) -> list[str]:
        """Find copies by kept pk or by the pk map; returns the pks still to look up by natural key."""
        todo = self._unresolved(info, source_pks)
        if not todo:
            return []
        if info.auto_pk:
            self._by_reference(info, todo)
        else:  # the pk is the same on both sides
            values = {p: info.pk_value(p) for p in todo}
            present = self._existing(info, values.values())
            for p, value in values.items():
                if value in present:
                    self.identity.link(info, p, value, record=False)
        return [p for p in todo if not self.identity.knows(info.label, p)]

    def resolve_by_natural_key(self, info: ModelInfo, source_pks: list[str]) -> None:
        """Look up by natural key (auto-increment pks only); what stays unfound is missing."""
        model = info.model
        rest = source_pks
        if (
            rest
            and info.auto_pk
            and hasattr(model, "natural_key")
            and hasattr(model._default_manager, "get_by_natural_key")
        ):
            keys = {p: k for p in rest if (k := self.source.natural_key(info, p)) is not None}
            found = find_by_natural_keys(model, self.ctx.target, keys)
            for p, target_pk in self._refuse_claimed(info, found, keys).items():
                self.identity.link(info, p, target_pk, record=True)
            rest = [p for p in rest if not self.identity.knows(info.label, p)]
        self.identity.missing[info.label].update(rest)

    def _unresolved(self, info: ModelInfo, source_pks: Iterable[str]) -> list[str]:
        label = info.label
        known, missing = self.identity.targets[label], self.identity.missing[label]
        copies = self.ctx.copies.get(label, {})
        todo = []
        for p in dict.fromkeys(source_pks):
            if p in known or p in missing:
                continue
            if p in copies:  # found or made by an earlier batch of this run
                known[p] = copies[p]
            else:
                todo.append(p)
        return todo

    def _existing(self, info: ModelInfo, values: Iterable[Any]) -> set[Any]:
        """Which of these pks exist on the target."""
        manager = info.model._base_manager.using(self.ctx.target)
        pk = info.model._meta.pk
        found: set[Any] = set()
        for chunk in chunks(values):
            found.update(
                manager.filter(column_in(info.model, pk, chunk, self.ctx.target)).values_list("pk", flat=True)
            )
        return found

    def _references(
        self, alias: str, peer: str, label: str, column: str, values: list[str]
    ) -> list[tuple[str, str]]:
        """``(object_id, peer_object_id)`` rows of ``alias``'s pk map whose ``column`` is in ``values``."""
        qn = connections[alias].ops.quote_name
        table = qn(Reference._meta.db_table)
        rows: list[tuple[str, str]] = []
        for chunk in chunks(values):
            marks = ", ".join(["%s"] * len(chunk))
            rows.extend(
                select_rows(
                    alias,
                    f"SELECT {qn('object_id')}, {qn('peer_object_id')} FROM {table} "
                    f"WHERE {qn('peer')} = %s AND {qn('model')} = %s AND {qn(column)} IN ({marks})",
                    [peer, label, *chunk],
                )
            )
        return rows

    def _by_reference(self, info: ModelInfo, todo: list[str]) -> None:
        """The pk map: on the target (written by pushes) and on the source (written by pulls)."""
        ctx = self.ctx
        candidates: dict[str, Any] = {}
        for object_id, peer_object_id in self._references(
            ctx.target, ctx.source_node, info.label, "peer_object_id", todo
        ):
            candidates[peer_object_id] = info.pk_value(object_id)
        rest = [p for p in todo if p not in candidates]
        if rest:
            for object_id, peer_object_id in self._references(
                ctx.source, ctx.target_node, info.label, "object_id", rest
            ):
                candidates[object_id] = info.pk_value(peer_object_id)
        if not candidates:
            return
        alive = self._existing(info, candidates.values())  # a copy may have been deleted since
        stale = [p for p, t in candidates.items() if t not in alive]
        if stale and not ctx.dry_run:
            for chunk in chunks(stale):
                Reference.objects.using(ctx.target).filter(
                    peer=ctx.source_node, model=info.label, peer_object_id__in=chunk
                ).delete()
        for p, target_pk in candidates.items():
            if target_pk in alive:
                self.identity.link(info, p, target_pk, record=False)

    def _refuse_claimed(
        self, info: ModelInfo, found: dict[str, Any], keys: dict[str, tuple[Any, ...]]
    ) -> dict[str, Any]:
        """Keep the natural-key matches whose target object is not the copy of another source object.

        A match that is already the copy of an object this batch deletes is dropped (the source
        object gets a copy of its own); any other claimed match is an error naming both objects.
        """
        ctx, label = self.ctx, info.label
        owners = {str(t): p for p, t in self.identity.targets[label].items()}
        wanted = sorted({str(t) for t in found.values()} - owners.keys())
        if wanted:
            for object_id, peer_object_id in self._references(
                ctx.target, ctx.source_node, label, "object_id", wanted
            ):
                owners.setdefault(object_id, peer_object_id)
            for object_id, peer_object_id in self._references(
                ctx.source, ctx.target_node, label, "peer_object_id", wanted
            ):
                owners.setdefault(peer_object_id, object_id)
        accepted: dict[str, Any] = {}
        for p, target_pk in found.items():
            owner = owners.setdefault(str(target_pk), p)
            if owner == p:
                accepted[p] = target_pk
            elif p in self.source.deleted[label] or self._gave_up(info, owner, keys[p]):
                continue  # not that object: p gets a copy of its own once the owner's copy gives the key up
            else:
                raise SyncError(
                    _(
                        "%(model)s %(pk)r on %(source)r has the natural key %(key)s of %(model)s "
                        "%(target_pk)r on %(target)r, which is already the copy of %(model)s %(owner)r; "
                        "two objects are not merged into one"
                    )
                    % {
                        "model": label,
                        "pk": p,
                        "source": ctx.source,
                        "key": repr(tuple(keys[p])),
                        "target_pk": str(target_pk),
                        "target": ctx.target,
                        "owner": owner,
                    }
                )
        return accepted

    def _gave_up(self, info: ModelInfo, owner: str, key: tuple[Any, ...]) -> bool:
        """Whether source object ``owner`` no longer has natural key ``key`` (deleted, or changed)."""
        if owner in self.source.deleted[info.label]:
            return True
        if owner not in self.source.read[info.label] and not self.source.load(info, [owner], self.ctx.source):
            return True
        return self.source.natural_key(info, owner) != tuple(key)

    def sources_of(self, info: ModelInfo, target_pks: Iterable[Any]) -> dict[Any, str]:
        """The source pks whose copies the given target rows are, where the pk map (or a kept pk) says so."""
        wanted = {str(t): t for t in target_pks}
        if not wanted:
            return {}
        if not info.auto_pk:
            return {t: s for s, t in wanted.items()}
        ctx = self.ctx
        found: dict[Any, str] = {}
        for object_id, peer_object_id in self._references(
            ctx.target, ctx.source_node, info.label, "object_id", list(wanted)
        ):
            found[wanted[object_id]] = peer_object_id
        rest = [s for s, t in wanted.items() if t not in found]
        if rest:
            for object_id, peer_object_id in self._references(
                ctx.source, ctx.target_node, info.label, "peer_object_id", rest
            ):
                found.setdefault(wanted[peer_object_id], object_id)
        return found
