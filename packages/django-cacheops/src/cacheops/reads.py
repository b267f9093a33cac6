"""The read seam: how an op of a queryset is read from the cache, for the synchronous QuerySet
methods (:mod:`cacheops.query`) and the native async ones (:mod:`cacheops.aio`).

Both ask here, and only here: :func:`read` (an op, computed and stored on a miss) and
:func:`read_remembered` (a get() or deferred filter() through its remembered key) in synchronous
code, :func:`aread` and :func:`aread_remembered` (hits only) in an event loop.  The seam picks the
path: ``local_get`` (:data:`cacheops.store.local_gets`), fast mode (:mod:`cacheops.memory`, for
profiles with ``local``) or Redis (:mod:`cacheops.store`, or the running loop's asyncio client of
:mod:`cacheops.async_redis`).

It also answers what the read paths ask before and after they touch the cache: whether an op of a
queryset is cached and with which profile, whether a get() is served from process memory, the
shortcut key of a get() or of a deferred filter() (see ``remember_call`` in :mod:`cacheops.keys`),
and how rows read from the cache are handed back (bound to the queryset's database, the hit
counted, what get() returns or raises for them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, SynchronousOnlyOperation
from django.db.models import Model
from django.db.models.query import MAX_GET_RESULTS

from . import memory
from .async_redis import acall, arun_script
from .conf import model_profile, settings
from .django_internals import (
    deferred_filter,
    iterable_class,
    known_related_objects,
    prefetch_lookups,
    raw_query,
    values_fields,
)
from .keys import (
    NOT_PLAIN,
    plan_tables,
    query_fingerprint,
    query_key,
    query_plan,
    queryset_prefix,
    remember_call,
    remembered_call,
    scalar_key,
)
from .redis import FAILURES, degrade, is_cluster
from .signals import cache_read
from .store import MISSING, get_or_compute, loads, local_gets, read_with_epochs
from .transaction import any_block_open, is_dirty, may_store

__all__ = [
    "PENDING_OPS",
    "aread",
    "aread_remembered",
    "bound",
    "caching_profile",
    "filter_shortcut",
    "get_result",
    "get_shortcut",
    "hit_rows",
    "is_local_get",
    "pending_shortcut",
    "read",
    "read_remembered",
]

# the ops a deferred filter() can be read for through its remembered key
PENDING_OPS = frozenset({"fetch", "count", "exists"})


def caching_profile(qs: Any, op: str, db: str | None = None) -> dict[str, Any] | None:
    """The profile to cache ``op`` of ``qs`` with, or None when it must not be cached (``db``:
    ``qs.db`` when the caller has it already)."""
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
    if raw_query(qs).select_for_update:
        return None
    if any_block_open() and is_dirty(qs.db if db is None else db):
        return None
    return profile


def is_local_get(qs: Any, db: str | None = None) -> bool:
    """Whether a get() is served from process memory (profiles with ``local_get``)."""
    profile = model_profile(qs.model)
    if not (
        profile
        and profile["local_get"]
        and settings.CACHEOPS_ENABLED
        and qs._cacheops_ops is None
        and not qs.query.select_for_update
    ):
        return False
    if not any_block_open():
        return True
    if db is None:
        db = qs.db
    # what a snapshot read would keep in memory may be stale
    return not is_dirty(db) and may_store(db)


# get() with plain keyword values on a plain queryset: once the full path has run, the key it
# computed is remembered for (the queryset's fingerprint, its db, the keywords and their values),
# so a repeated get() reads the cache without building and fingerprinting the filtered query.


def get_shortcut(qs: Any, args: tuple, kwargs: dict[str, Any]) -> tuple | None:
    """The shortcut key of ``qs.get(*args, **kwargs)``, or None when it has none."""
    if args or not kwargs or qs.query.combinator or prefetch_lookups(qs) or known_related_objects(qs):
        return None
    values = _value_keys(qs.model, kwargs)
    if values is None:
        return None
    db = qs.db  # a property that asks the routers: once (the caller reads it from the shortcut)
    if caching_profile(qs, "get", db) is None or is_local_get(qs, db):
        return None
    fingerprint = query_fingerprint(qs.query)
    if fingerprint is None:
        return None
    return (fingerprint, db, iterable_class(qs), values_fields(qs), values)


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


# ------------------------------------------------------------------ the seam: synchronous reads


def read(qs: Any, op: str, compute: Callable[[], Any], extra: Any = "") -> Any:
    """``op`` of ``qs`` through the cache: the cached value, else ``compute()`` (stored when it may
    be), model instances bound to the queryset's database and the read counted (``cache_read``);
    MISSING when ``op`` of ``qs`` is not cached (the caller runs Django's own code).  ``extra``:
    what tells two such ops apart beyond the query (an aggregate's arguments)."""
    if op == "get" and is_local_get(qs):
        return _local_get(qs, compute)
    profile = caching_profile(qs, op)
    if profile is None:
        return MISSING
    db = qs.db  # a property that asks the routers: once from here on
    shortcut = pending_shortcut(qs, op, db)
    if shortcut is None:
        return bound(qs, _cached_call(qs, op, profile, compute, extra), db)
    result = read_remembered(qs, shortcut, db)
    if result is not MISSING:
        return result
    d = qs.__dict__
    d["_cacheops_shortcut"] = shortcut
    try:
        return bound(qs, _cached_call(qs, op, profile, compute, extra), db)
    finally:
        d.pop("_cacheops_shortcut", None)
        d.pop("_cacheops_known", None)


def read_remembered(qs: Any, shortcut: tuple, db: str | None = None) -> Any:
    """The rows (or value) under the key remembered for ``shortcut`` (of a get() or of a deferred
    filter()) when it is a hit, bound and counted; else MISSING, with the epochs read with the miss
    noted on ``qs`` for the race guard of the full path's store."""
    remembered = remembered_call(shortcut)
    if remembered is None:
        return MISSING
    profile, plan = remembered
    prefix = queryset_prefix(qs, plan)
    if profile.get("local"):
        result = memory.trusted_copy(prefix, plan.key)  # else the full path checks stamps, reads Redis
    else:
        result, known = read_with_epochs(prefix, plan.key, list(plan.conditions or ()))
        if result is MISSING and known is not None:
            qs._cacheops_known = (plan.key, known)
    return hit_rows(qs, result, db)


def _local_get(qs: Any, compute: Callable[[], Any]) -> Any:
    """A get() of a ``local_get`` profile: kept in this process until it writes to the table."""
    try:
        key = query_key(qs, "get", db_agnostic=False)
    except EmptyResultSet:
        return MISSING
    return local_gets.get_or_compute(qs.model._meta.db_table, key, compute)


def _cached_call(qs: Any, op: str, profile: dict[str, Any], compute: Any, extra: Any = "") -> Any:
    try:
        plan = query_plan(qs, op, extra, db_agnostic=profile["db_agnostic"])
    except EmptyResultSet:  # matches nothing: Django answers without a query (a miss, as in 7.2)
        value = compute()
        _counted(qs, False)
        return value
    key = plan.key
    prefix = queryset_prefix(qs, plan)
    d = qs.__dict__
    if "_cacheops_shortcut" in d and plan.conditions is not None:
        remember_call(d["_cacheops_shortcut"], profile, plan)
    known = d.get("_cacheops_known")
    if known is not None and known[0] != key:
        known = None
    timeout = qs._cacheops_timeout or profile["timeout"]
    lock = qs._cacheops_lock if qs._cacheops_lock is not None else profile["lock"]
    conditions = lambda: plan.get_conditions(qs)  # noqa: E731 - only run on a miss
    storable = lambda: may_store(qs.db)  # noqa: E731 - only run on a miss
    if profile.get("local"):
        value, hit = memory.fast_get_or_compute(
            prefix, key, compute, conditions, timeout=timeout, lock=lock, storable=storable
        )
    else:
        value, hit = get_or_compute(
            prefix,
            key,
            compute,
            conditions,
            timeout=timeout,
            lock=lock,
            tables=plan_tables(qs, plan),
            known=known and known[1],
            storable=storable,
        )
    _counted(qs, hit)
    return value


# ------------------------------------------------------------------ the seam: reads in an event loop


async def aread(qs: Any, op: str, extra: Any = "") -> Any:
    """A cache hit of ``op`` on ``qs`` read in the running event loop, bound and counted; MISSING
    when the synchronous path must run (not cached, a miss, fast mode on a cluster, or a key that
    can't be built without the database)."""
    if op == "get" and is_local_get(qs):
        return MISSING
    profile = caching_profile(qs, op)
    if profile is None:
        return MISSING
    local = profile.get("local")
    if local and is_cluster():  # fast mode on a cluster: the synchronous path reads
        return MISSING
    shortcut = pending_shortcut(qs, op)
    if shortcut is not None:  # a deferred filter() whose key is remembered
        value = await aread_remembered(qs, shortcut)
        if value is not MISSING:
            return value
    try:
        plan = query_plan(qs, op, extra, db_agnostic=profile["db_agnostic"])
        prefix = queryset_prefix(qs, plan)
    except (SynchronousOnlyOperation, EmptyResultSet):  # e.g. a backend that asks the server to quote
        return MISSING
    if local:
        value = await memory.aread(prefix, plan.key, lambda: plan.get_conditions(qs))
    else:
        value = await _aread_redis(prefix, plan.key)
    return hit_rows(qs, value)


async def aread_remembered(qs: Any, shortcut: tuple) -> Any:
    """As :func:`read_remembered` in the running event loop (MISSING on a miss)."""
    remembered = remembered_call(shortcut)
    if remembered is None:
        return MISSING
    profile, plan = remembered
    prefix = queryset_prefix(qs, plan)
    if profile.get("local"):
        value = memory.trusted_copy(prefix, plan.key)
    else:
        value = await _aread_redis(prefix, plan.key)
    return hit_rows(qs, value)


async def _aread_redis(prefix: str, key: str) -> Any:
    """The cached value under ``key`` read through the running loop's client, or MISSING (also when
    Redis is unreachable and CACHEOPS_DEGRADE_ON_FAILURE is on)."""
    try:
        if settings.CACHEOPS_INSIDEOUT:
            data = await arun_script("read_insideout", [prefix, key])
        else:
            data = await acall("GET", prefix + key)
    except FAILURES as e:
        degrade(e)
        return MISSING
    if data is None or data is False:
        return MISSING
    return loads(data)


# ------------------------------------------------------------------ a hit, handed back


def hit_rows(qs: Any, result: Any, db: str | None = None) -> Any:
    """Rows read from the cache for ``qs``, made ready: the hit counted, instances bound to its db
    (MISSING, a miss, stays MISSING and is not counted here)."""
    if result is MISSING:
        return MISSING
    _counted(qs, True)
    return bound(qs, result, db)


def _counted(qs: Any, hit: bool) -> None:
    """Send ``cache_read`` for a read of ``qs`` (with no receiver connected, send() would return at
    once: the call and its arguments are skipped)."""
    if cache_read.receivers:
        cache_read.send(sender=qs.model, func=None, hit=hit)


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
