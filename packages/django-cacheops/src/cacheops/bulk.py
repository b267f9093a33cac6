"""Mass writes invalidate: ``bulk_create()`` always, ``update()`` and ``bulk_update()`` with
``CACHEOPS_INVALIDATE_BULK = True``.

``QuerySet.update()`` reads the rows its WHERE selects before it writes (one extra SELECT, in
the same transaction) and invalidates for their old and new values, so only cached queries
those rows could appear in are dropped; new values given as expressions (``F('n') + 1``,
``Case``) are read back after the update (by primary key: a primary key changed by an
expression invalidates the whole model).  ``bulk_update()`` runs through ``update()`` batch by
batch and is covered the same way, and so is ``on_delete=SET_NULL``/``SET_DEFAULT`` on related
querysets. Updates touching more than ``MAX_ROWS`` rows invalidate the whole model instead.
``bulk_create()`` invalidates for the created rows, whatever the setting (the whole model when
the database did not return their primary keys, or with ``update_conflicts``), on the database
it wrote to. ``QuerySet.delete()`` needs nothing here: see :mod:`cacheops.events`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet

from .conf import settings
from .django_internals import mark_for_write
from .invalidation import invalidate_model, invalidate_rows, no_invalidation, obj_values

__all__ = ["MAX_ROWS", "bulk_handled_here", "install_bulk"]

MAX_ROWS = 1000
_CHUNK = 500
_original: dict[str, Any] = {}


_handled = threading.local()


@contextmanager
def bulk_handled_here() -> Iterator[None]:
    """Inside, ``update()`` doesn't invalidate: the caller invalidates for the rows it changes."""
    depth = getattr(_handled, "depth", 0)
    _handled.depth = depth + 1
    try:
        yield
    finally:
        _handled.depth = depth


def _invalidating(model: type) -> bool:
    return bool(
        settings.CACHEOPS_ENABLED
        and not no_invalidation.active
        and model.__module__ != "__fake__"  # migration models
    )


def _enabled(model: type) -> bool:
    return bool(
        settings.CACHEOPS_INVALIDATE_BULK and not getattr(_handled, "depth", 0) and _invalidating(model)
    )


def _attnames(model: Any) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _apply(model: Any, row: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    new = dict(row)
    for name, value in changes.items():
        field = model._meta.get_field(name)
        if isinstance(value, Model) and field.remote_field is not None:
            # what Django writes: the value of the field the foreign key refers to (its to_field)
            value = value.prepare_database_save(field)
        new[field.attname] = value
    return new


def _read_back(model: Any, using: str, pks: list[Any]) -> list[dict[str, Any]]:
    base = model._base_manager.using(using)
    rows: list[dict[str, Any]] = []
    for i in range(0, len(pks), _CHUNK):
        chunk = base.filter(pk__in=pks[i : i + _CHUNK]).nocache().values(*_attnames(model))
        rows.extend(chunk)
    return rows


def _changes_pk(model: Any, kwargs: dict[str, Any]) -> bool:
    return any(model._meta.get_field(name).primary_key for name in kwargs)


def update(self: Any, **kwargs: Any) -> int:
    """``QuerySet.update()`` that invalidates for the old and new values of the rows it changes."""
    model = self.model
    if not _enabled(model) or self.query.is_sliced or self.query.combinator:
        return _original["update"](self, **kwargs)
    mark_for_write(self)
    using = self.db
    attnames = _attnames(model)
    plain = not any(hasattr(value, "resolve_expression") for value in kwargs.values())
    with transaction.atomic(using=using, savepoint=False):
        old = list(self.nocache().values(*attnames)[: MAX_ROWS + 1])
        count = _original["update"](self, **kwargs)
        if len(old) > MAX_ROWS or (not plain and _changes_pk(model, kwargs)):
            new = None  # too many rows, or they can't be read back by their old primary keys
        elif plain:
            new = [_apply(model, row, kwargs) for row in old]
        else:
            pk = model._meta.pk.attname
            new = _read_back(model, using, [row[pk] for row in old])
    if new is None:
        invalidate_model(model, using)
    else:
        invalidate_rows(model, old + new, using)
    return count


def bulk_create(
    self: Any,
    objs: Any,
    batch_size: int | None = None,
    ignore_conflicts: bool = False,
    update_conflicts: bool = False,
    update_fields: Any = None,
    unique_fields: Any = None,
) -> list[Model]:
    """``QuerySet.bulk_create()`` that invalidates for the rows it creates."""
    objs = list(objs)
    result = _original["bulk_create"](
        self,
        objs,
        batch_size=batch_size,
        ignore_conflicts=ignore_conflicts,
        update_conflicts=update_conflicts,
        update_fields=update_fields,
        unique_fields=unique_fields,
    )
    model = self.model
    if not objs or not _invalidating(model):
        return result
    using = self.db
    if update_conflicts:  # rows were maybe updated, their old values are unknown
        invalidate_model(model, using)
        return result
    pk = model._meta.pk.attname
    rows = []
    for obj in objs:
        values = obj_values(obj)
        if values.get(pk) is None:  # not returned by the database: the row can't be pinned down
            values.pop(pk, None)
        rows.append(values)
    invalidate_rows(model, rows, using)
    return result


_installed = False


def install_bulk() -> None:
    """Wrap ``QuerySet.update`` and ``QuerySet.bulk_create`` (idempotent; ``update()`` only does
    more than Django's own while ``CACHEOPS_INVALIDATE_BULK`` is on)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name, method in (("update", update), ("bulk_create", bulk_create)):
        _original[name] = getattr(QuerySet, name)
        method.alters_data = True  # type: ignore[union-attr]
        setattr(QuerySet, name, method)
