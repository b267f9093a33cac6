"""What invalidates on writes: the save, delete and m2m signals, and deletions Django makes
without signals.

``pre_save`` reads the row's old values (never from the cache) and ``post_save`` invalidates for
the old and the new ones; ``post_delete`` for the deleted row. These receivers are connected
first, before any other receiver of these signals, so a ``post_save`` receiver of the user
already reads fresh data through the cache. ``m2m_changed`` invalidates the through rows added,
removed or cleared.

A deletion also changes rows Django sends no signal for: the rows of auto-created m2m through
tables it deletes (deleting either side of a many-to-many relation), and the rows its
``on_delete=SET_NULL``/``SET_DEFAULT``/``SET(...)`` updates. ``Collector.delete()`` is wrapped to
invalidate for those too (the updated rows are read before the update, in the same transaction).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet, signals
from django.db.models.deletion import Collector
from django.db.models.query import MAX_GET_RESULTS
from django.dispatch import Signal

from .bulk import MAX_ROWS, bulk_handled_here
from .conf import model_profile, settings
from .django_internals import (
    DATABASE_ON_DELETE,
    collector_data,
    collector_fast_deletes,
    collector_field_updates,
    collector_using,
    database_on_delete,
)
from .invalidation import invalidate_model, invalidate_rows, no_invalidation
from .keys import query_plan, queryset_prefix
from .store import snapshot, write
from .stored_rows import old_rows
from .transaction import defer

__all__ = ["connect_first", "install_events"]

_OLD_ATTR = "_cacheops_old_values"  # pre_save -> post_save: (old rows, deferred attnames)
_GONE_ATTR = "_cacheops_deleted_values"  # pre_delete -> post_delete: old rows
_PARENTS_ATTR = "_cacheops_old_parents"  # pre_save -> post_save: [(MTI parent, its old rows)]


def connect_first(signal: Signal, receiver: Any, dispatch_uid: str) -> None:
    """Connect ``receiver`` (for every sender) ahead of the receivers connected so far."""
    signal.connect(receiver, dispatch_uid=dispatch_uid, weak=False)
    with signal.lock:
        ours = [entry for entry in signal.receivers if entry[0][0] == dispatch_uid]
        others = [entry for entry in signal.receivers if entry[0][0] != dispatch_uid]
        signal.receivers[:] = ours + others
        signal.sender_receivers_cache.clear()


def _active(sender: Any) -> bool:
    return bool(settings.CACHEOPS_ENABLED and not no_invalidation.active and sender.__module__ != "__fake__")


def _loaded(sender: Any, instance: Model) -> dict[str, Any]:
    """The instance's concrete field values that are loaded (deferred fields are not read)."""
    data = instance.__dict__
    return {f.attname: data[f.attname] for f in sender._meta.concrete_fields if f.attname in data}


def _pre_save(sender: Any, instance: Model, using: str, raw: bool = False, **kwargs: Any) -> None:
    if instance.pk is None or not _active(sender):
        return
    if instance._state.adding and sender._meta.pk.has_default():
        # Django inserts such rows without trying an UPDATE: there is no old row (unless
        # save(force_update=True) or raw, which the signal doesn't tell: post_save sees it)
        instance.__dict__[_OLD_ATTR] = (None, ())
        return
    deferred = instance.get_deferred_fields()  # not saved: they keep the old row's values
    old = old_rows(sender, instance.pk, using)
    instance.__dict__[_OLD_ATTR] = (old, deferred)
    if not old and sender._meta.parents:
        # a child saved over existing parent rows (Movie(media_ptr=media, ...)): Django updates
        # them, their old values are read one table at a time
        meta = sender._meta
        instance.__dict__[_PARENTS_ATTR] = [
            (parent, old_rows(parent, getattr(instance, meta.get_ancestor_link(parent).attname), using))
            for parent in meta.get_parent_list()
        ]


def _post_save(
    sender: Any, instance: Model, using: str, created: bool = True, update_fields: Any = None, **kwargs: Any
) -> None:
    old, deferred = instance.__dict__.pop(_OLD_ATTR, ([], ()))
    parents = instance.__dict__.pop(_PARENTS_ATTR, [])
    if not _active(sender):
        return
    if old is None:  # not read before the save
        if not created:  # it updated a row after all: its old values are unknown
            invalidate_model(sender, using)
        old = []
    for parent, rows in parents:
        if rows:
            invalidate_rows(parent, rows, using)
    new = _loaded(sender, instance)
    if old and update_fields is not None:
        # only these fields were written: the others keep the old row's values in the database,
        # whatever the instance holds in memory
        written = {
            f.attname
            for f in sender._meta.concrete_fields
            if f.name in update_fields or f.attname in update_fields
        }
        new = {**old[0], **{a: v for a, v in new.items() if a in written}}
    elif old:
        # a field missing now was either deferred (unchanged) or saved as an expression whose
        # result Django didn't read back (unknown: left out, so its table is dropped whole)
        new = {**{a: v for a, v in old[0].items() if a in deferred}, **new}
    invalidate_rows(sender, [*old, new], using)
    profile = model_profile(sender)
    if profile and profile["cache_on_save"]:
        _cache_on_save(sender, instance, using, profile)


def _cache_on_save(sender: Any, instance: Model, using: str, profile: dict[str, Any]) -> None:
    field = profile["cache_on_save"]
    lookup = "pk" if field is True else field
    qs = sender._default_manager.using(using).filter(**{lookup: getattr(instance, lookup)}).order_by()
    qs.query.set_limits(high=MAX_GET_RESULTS)
    qs._cacheops_get = True

    def store() -> None:
        plan = query_plan(qs, "get", db_agnostic=profile["db_agnostic"])
        prefix = queryset_prefix(qs, plan)
        conditions = plan.get_conditions(qs)
        write(prefix, plan.key, [instance], conditions, profile["timeout"], snapshot(prefix, conditions))

    defer(using, store)


def _pre_delete(sender: Any, instance: Model, using: str, **kwargs: Any) -> None:
    if instance.pk is None or not _active(sender):
        return
    if len(_loaded(sender, instance)) < len(sender._meta.concrete_fields):
        # deferred fields can't be read once the row is gone: read them now
        instance.__dict__[_GONE_ATTR] = old_rows(sender, instance.pk, using)


def _post_delete(sender: Any, instance: Model, using: str, **kwargs: Any) -> None:
    old = instance.__dict__.pop(_GONE_ATTR, [])
    if not _active(sender):
        return
    values = {**(old[0] if old else {}), **_loaded(sender, instance)}
    invalidate_rows(sender, [values], using)


def _m2m_changed(
    sender: Any, instance: Model, action: str, reverse: bool, model: Any, pk_set: Any, using: str, **kw: Any
) -> None:
    """Invalidate for the through rows added, removed or cleared (read from the database)."""
    if not _active(sender):
        return
    if action not in ("post_add", "pre_remove", "pre_clear"):
        return
    through = sender
    m2m = _m2m_field(through, instance, model, reverse)
    if m2m is None:
        return
    source_name = m2m.m2m_field_name()
    target_name = m2m.m2m_reverse_field_name()
    if reverse:
        source_name, target_name = target_name, source_name
    filters: dict[str, Any] = {source_name: instance.pk}
    if pk_set is not None and action != "pre_clear":
        filters[f"{target_name}__in"] = list(pk_set)
    attnames = [f.attname for f in through._meta.concrete_fields]
    rows = list(through._base_manager.using(using).filter(**filters).nocache().values(*attnames))
    invalidate_rows(through, rows, using)


def _m2m_field(through: type, instance: Model, model: Any, reverse: bool) -> Any:
    owner: Any = model if reverse else type(instance)
    for field in owner._meta.concrete_model._meta.many_to_many:
        if field.remote_field.through is through:
            return field
    for field in owner._meta.many_to_many:
        if field.remote_field.through is through:
            return field
    return None


# ------------------------------------------------------------------ deletions without signals

_original_delete = Collector.delete


def _attnames(model: Any) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _updated_rows(collector: Collector) -> list[tuple[Any, list[dict[str, Any]] | None, str, Any]]:
    """``[(model, old rows or None (too many: the whole model), attname, new value)]`` of the
    rows ``collector`` will update (``on_delete=SET_NULL`` and the like)."""
    found = []
    for (field, value), instances_list in collector_field_updates(collector).items():
        # what Django writes for an instance: the value of the field the foreign key refers to
        new_value = value.prepare_database_save(field) if isinstance(value, Model) else value
        for instances in instances_list:
            qs: Any
            if isinstance(instances, QuerySet):
                model, qs = instances.model, instances
            else:
                objs: list[Any] = list(instances)
                if not objs:
                    continue
                model = type(objs[0])
                pks = list({obj.pk for obj in objs})
                qs = model._base_manager.using(collector_using(collector)).filter(pk__in=pks)
            rows = list(qs.nocache().values(*_attnames(model))[: MAX_ROWS + 1])
            found.append((model, rows if len(rows) <= MAX_ROWS else None, field.attname, new_value))
    return found


# Django 6.1's on_delete=DB_CASCADE, DB_SET_NULL and DB_SET_DEFAULT: the database itself deletes or
# updates the referring rows, Django neither collects nor signals them
_by_database: dict[Any, frozenset[Any]] = {}


def _changed_by_database(model: Any) -> frozenset[Any]:
    """The models whose rows the database deletes or updates when rows of ``model`` are deleted
    (``DB_CASCADE`` followed on), built once per model: what they read is dropped as a whole."""
    found = _by_database.get(model)
    if found is None:
        models: set[Any] = set()
        todo = [model]
        while todo and DATABASE_ON_DELETE is not None:
            current = todo.pop()
            for related in current._meta.get_fields(include_hidden=True):
                if not (
                    related.auto_created
                    and not related.concrete
                    and (related.one_to_one or related.one_to_many)
                ):
                    continue
                operation = database_on_delete(related.field.remote_field.on_delete)
                child = related.related_model
                if operation is not None and child not in models:
                    models.add(child)
                    if operation == "CASCADE":
                        todo.append(child)
        found = _by_database[model] = frozenset(models)
    return found


def _through_rows(collector: Collector) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The rows of auto-created m2m through models the collector will delete, read before they go
    (deleting them sends no signal)."""
    through: list[tuple[Any, list[dict[str, Any]]]] = []
    for model, instances in collector_data(collector).items():
        if model._meta.auto_created and model.__module__ != "__fake__":
            attnames = _attnames(model)
            through.append((model, [{a: getattr(obj, a) for a in attnames} for obj in instances]))
    return through


def _wholesale_models(collector: Collector) -> set[Any]:
    """The models whose rows go without a row signal: fast-deleted ones, and those the database
    deletes or updates itself (``on_delete=DB_*``); what they read is dropped as a whole."""
    models = {qs.model for qs in collector_fast_deletes(collector) if qs.model.__module__ != "__fake__"}
    for model in [*collector_data(collector), *models]:
        models.update(m for m in _changed_by_database(model) if m.__module__ != "__fake__")
    return models


def _invalidate_updates(updates: list[tuple[Any, list[dict[str, Any]] | None, str, Any]], using: str) -> None:
    """Drop what the collector's field updates (``on_delete=SET_NULL`` etc.) changed: the rows
    before and after, or the whole model when there were too many rows to read."""
    for model, old, attname, value in updates:
        if old is None:
            invalidate_model(model, using)
        else:
            invalidate_rows(model, old + [{**row, attname: value} for row in old], using)


def _collector_delete(self: Collector) -> Any:
    if not (settings.CACHEOPS_ENABLED and not no_invalidation.active):
        return _original_delete(self)
    using = collector_using(self)
    through = _through_rows(self)
    fast_models = _wholesale_models(self)
    with transaction.atomic(using=using, savepoint=False):
        updates = _updated_rows(self) if collector_field_updates(self) else []
        with bulk_handled_here():
            result = _original_delete(self)
    for model, rows in through:
        invalidate_rows(model, rows, using)
    _invalidate_updates(updates, using)
    for model in fast_models:
        invalidate_model(model, using)
    return result


# ------------------------------------------------------------------ install

_installed = False


def install_events() -> None:
    """Connect the receivers (ahead of others) and wrap ``Collector.delete`` (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    connect_first(signals.pre_save, _pre_save, "cacheops.pre_save")
    connect_first(signals.post_save, _post_save, "cacheops.post_save")
    connect_first(signals.pre_delete, _pre_delete, "cacheops.pre_delete")
    connect_first(signals.post_delete, _post_delete, "cacheops.post_delete")
    signals.m2m_changed.connect(_m2m_changed, dispatch_uid="cacheops.m2m_changed", weak=False)
    Collector.delete = _collector_delete  # type: ignore[method-assign]
