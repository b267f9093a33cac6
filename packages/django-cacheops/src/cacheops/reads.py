"""The read seam of a cached queryset, shared by the synchronous QuerySet methods
(:mod:`cacheops.query`) and the native async ones (:mod:`cacheops.aio`).

It answers what both read paths ask before and after they touch the cache: whether an op of a
queryset is cached and with which profile, whether a get() is served from process memory, the
shortcut key of a get() or of a deferred filter() (see ``remember_call`` in :mod:`cacheops.keys`),
and how rows read from the cache are handed back (bound to the queryset's database, the hit
counted, what get() returns or raises for them).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.db.models.query import MAX_GET_RESULTS

from .conf import model_profile, settings
from .django_internals import (
    deferred_filter,
    iterable_class,
    known_related_objects,
    prefetch_lookups,
    raw_query,
    values_fields,
)
from .keys import NOT_PLAIN, query_fingerprint, scalar_key
from .signals import cache_read
from .transaction import is_dirty, may_store

__all__ = [
    "PENDING_OPS",
    "bound",
    "caching_profile",
    "filter_shortcut",
    "get_result",
    "get_shortcut",
    "hit_rows",
    "is_local_get",
    "pending_shortcut",
]

# the ops a deferred filter() can be read for through its remembered key
PENDING_OPS = frozenset({"fetch", "count", "exists"})


def caching_profile(qs: Any, op: str) -> dict[str, Any] | None:
    """The profile to cache ``op`` of ``qs`` with, or None when it must not be cached."""
    if not settings.CACHEOPS_ENABLED:
        return None
    profile = model_profile(qs.model)
    if profile is None:
        return None
    ops = qs._cacheops_ops
    if ops is None:
        ops = profile["ops"]
    if op not in ops:
        return None
    # the raw query: a filter() still deferred (see query._filter_or_exclude) never locks rows
    if raw_query(qs).select_for_update or is_dirty(qs.db):
        return None
    return profile


def is_local_get(qs: Any) -> bool:
    """Whether a get() is served from process memory (profiles with ``local_get``)."""
    profile = model_profile(qs.model)
    return bool(
        profile
        and profile["local_get"]
        and settings.CACHEOPS_ENABLED
        and qs._cacheops_ops is None
        and not qs.query.select_for_update
        and not is_dirty(qs.db)
        and may_store(qs.db)  # what a snapshot read would keep in memory may be stale
    )


# get() with plain keyword values on a plain queryset: once the full path has run, the key it
# computed is remembered for (the queryset's fingerprint, its db, the keywords and their values),
# so a repeated get() reads the cache without building and fingerprinting the filtered query.


def get_shortcut(qs: Any, args: tuple, kwargs: dict[str, Any]) -> tuple | None:
    """The shortcut key of ``qs.get(*args, **kwargs)``, or None when it has none."""
    if args or not kwargs or qs.query.combinator or prefetch_lookups(qs) or known_related_objects(qs):
        return None
    values = _value_keys(qs.model, kwargs)
    if values is None or caching_profile(qs, "get") is None or is_local_get(qs):
        return None
    fingerprint = query_fingerprint(qs.query)
    if fingerprint is None:
        return None
    return (fingerprint, qs.db, iterable_class(qs), values_fields(qs), values)


def filter_shortcut(qs: Any, negate: bool, kwargs: dict[str, Any]) -> tuple | None:
    """The key of ``qs.filter(**kwargs)`` (``exclude`` when ``negate``) for a deferred filter,
    or None when such a filter on ``qs`` is built at once."""
    if not settings.CACHEOPS_ENABLED:
        return None
    profile = model_profile(qs.model)
    if profile is None:
        return None
    ops = qs._cacheops_ops if qs._cacheops_ops is not None else profile["ops"]
    if not ops & PENDING_OPS:
        return None
    values = _value_keys(qs.model, kwargs)
    if values is None:
        return None
    fingerprint = query_fingerprint(raw_query(qs))
    if fingerprint is None:
        return None
    return (fingerprint, negate, values)


def pending_shortcut(qs: Any, op: str, db: str | None = None) -> tuple | None:
    """The shortcut key of ``op`` on ``qs`` when its last filter() is still deferred, else None."""
    pending = qs.__dict__.get("_cacheops_pending")
    if pending is None or pending.key is None or deferred_filter(qs) is None:
        return None
    return (pending.key, op, db or qs.db, iterable_class(qs), values_fields(qs))


def _value_keys(model: Any, kwargs: dict[str, Any]) -> tuple | None:
    """``((name, value key), ...)`` when every keyword value is plain (see keys.scalar_key) or a
    saved instance given to a foreign key to a primary key; else None."""
    values = []
    for name, value in kwargs.items():
        key = scalar_key(value)
        if key is NOT_PLAIN:
            if not isinstance(value, Model) or not _points_to_pk(model, name):
                return None
            key = scalar_key(value.pk)
            if key is NOT_PLAIN or value.pk is None:
                return None
            key = (type(value), key)  # Django checks the instance's class and reads its pk
        values.append((name, key))
    return tuple(values)


_to_pk: dict[tuple[type, str], bool] = {}


def _points_to_pk(model: Any, name: str) -> bool:
    """Whether keyword ``name`` is (the exact lookup of) a foreign key or one-to-one field of
    ``model`` to a primary key: Django filters such a field by the instance's pk alone."""
    found = _to_pk.get((model, name))
    if found is None:
        field_name = name.removesuffix("__exact")
        found = False
        if "__" not in field_name:
            try:
                field = model._meta.get_field(field_name)
            except FieldDoesNotExist:
                field = None
            target = getattr(field, "target_field", None)
            found = bool(
                field is not None
                and field.concrete
                and (field.many_to_one or field.one_to_one)
                and target is not None
                and target.primary_key
            )
        _to_pk[(model, name)] = found
    return found


# ------------------------------------------------------------------ a hit, handed back


def hit_rows(qs: Any, result: list, db: str | None = None) -> list:
    """Rows read from the cache for ``qs``, made ready: the hit counted, instances bound to its db."""
    cache_read.send(sender=qs.model, func=None, hit=True)
    return bound(qs, result, db)


def bound(qs: Any, result: Any, db: str | None = None) -> Any:
    """``result`` with its model instances bound to the queryset's database (``db``: ``qs.db``
    when the caller has it already)."""
    if type(result) is list and result and isinstance(result[0], Model):
        if db is None:
            db = qs.db  # a property that asks the routers: once, not per row
        if result[0]._state.db != db:  # the rows of one result come from one database
            for obj in result:
                obj._state.db = db
    return result


def get_result(qs: Any, rows: list) -> Any:
    """What ``qs.get()`` returns for these rows, or the exception it raises."""
    num = len(rows)
    if num == 1:
        return rows[0]
    name = qs.model._meta.object_name
    if not num:
        raise qs.model.DoesNotExist(f"{name} matching query does not exist.")
    shown = num if num < MAX_GET_RESULTS else f"more than {MAX_GET_RESULTS - 1}"
    raise qs.model.MultipleObjectsReturned(f"get() returned more than one {name} -- it returned {shown}!")
