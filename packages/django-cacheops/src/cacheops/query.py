"""Queryset caching: automatic per profile, manual with ``qs.cache()``.

:func:`install_queryset` (run by ``install_cacheops()``) adds ``cache()``, ``nocache()``,
``inplace()``, ``cloning()`` and ``invalidated_update()`` to every QuerySet and manager, and makes
``get``/``first``/``last``/iteration/``count``/``exists``/``aggregate`` consult Redis.  What these
methods share with the native async ones (:mod:`cacheops.aio`) is in :mod:`cacheops.reads`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.manager import BaseManager

from .conf import ALL_OPS, model_profile
from .django_internals import (
    CLONE,
    FETCH_ALL,
    FILTER_OR_EXCLUDE,
    chain,
    clone_queryset,
    defer_filter,
    deferred_filter,
    filter_deferral_blocked,
    iterable_class,
    known_related_objects,
    prefetch_lookups,
    raw_query,
    result_cache,
    set_result_cache,
)
from .invalidation import invalidate_model, invalidate_rows
from .keys import filter_built, filter_was_built
from .reads import caching_profile, filter_shortcut, get_result, get_shortcut, read, read_remembered
from .store import MISSING

_original: dict[str, Any] = {}


def _profile(qs: Any) -> dict[str, Any] | None:
    return model_profile(qs.model)


def _require_profile(qs: Any) -> dict[str, Any]:
    profile = _profile(qs)
    if profile is None:
        raise ImproperlyConfigured(
            f"Cacheops is not enabled for {qs.model._meta.label_lower}: give it a profile in CACHEOPS "
            "(use empty ops to cache nothing by default)"
        )
    return profile


# ------------------------------------------------------------------ QuerySet methods


def _fetch_all(self: Any) -> None:
    if result_cache(self) is None:
        result = read(self, "get" if self._cacheops_get else "fetch", lambda: _fetch_rows(self))
        if result is not MISSING:
            set_result_cache(self, result)
    _original[FETCH_ALL](self)


def _fetch_rows(qs: Any) -> list:
    """The rows of ``qs`` from the database, kept as its result before they are stored: a row
    may refer back to ``qs`` (an attribute of a related instance), and pickling ``qs`` then finds
    its result instead of evaluating it again."""
    rows = list(iterable_class(qs)(qs))
    set_result_cache(qs, rows)
    return rows


def _get(self: Any, *args: Any, **kwargs: Any) -> Any:
    if result_cache(self) is not None or self._cacheops_get:
        return _original["get"](self, *args, **kwargs)
    shortcut = get_shortcut(self, args, kwargs)
    if shortcut is not None:
        result = read_remembered(self, shortcut, shortcut[1])  # the shortcut holds qs.db
        if result is not MISSING:
            return get_result(self, result)
    # the clones Django makes inside carry the flags: their fetch is a "get"
    self._cacheops_get = True
    if shortcut is not None:
        self._cacheops_shortcut = shortcut
    try:
        return _original["get"](self, *args, **kwargs)
    finally:
        self.__dict__.pop("_cacheops_get", None)
        self.__dict__.pop("_cacheops_shortcut", None)
        self.__dict__.pop("_cacheops_known", None)


# ------------------------------------------------------------------ deferred filter()
#
# ``filter(**plain)`` on a queryset that reads the cache, once Django has built that very filter
# without an error, is not built at once: it waits in Django's own ``_deferred_filter`` (applied
# the moment anything reads ``qs.query``).  A count/exists/fetch of such a queryset looks up the
# key remembered for (the base query's fingerprint, the filter's values, the op, the db) and
# reads the cache without building and fingerprinting the filtered query; anything else builds
# the filter as usual.


class _Pending:
    """The shortcut of a deferred filter(); empty after pickling or copying."""

    __slots__ = ("key",)

    def __init__(self, key: tuple | None) -> None:
        self.key = key

    def __reduce__(self) -> tuple:
        return (_Pending, (None,))


def _filter_or_exclude(self: Any, negate: bool, args: tuple, kwargs: dict[str, Any]) -> Any:
    pending = None
    if (
        kwargs
        and not args
        and deferred_filter(self) is None
        and not filter_deferral_blocked(self)
        and self._cacheops_cloning
        and not self._cacheops_get
        and not prefetch_lookups(self)
        and not known_related_objects(self)
    ):
        pending = filter_shortcut(self, negate, kwargs)
        if pending is not None and filter_was_built(pending) and not raw_query(self).is_sliced:
            clone = chain(self)
            defer_filter(clone, negate, args, kwargs)
            clone._cacheops_pending = _Pending(pending)
            return clone
    clone = _original[FILTER_OR_EXCLUDE](self, negate, args, kwargs)
    if pending is not None:
        filter_built(pending)
    return clone


def _first(self: Any) -> Any:
    if result_cache(self) is not None or self._cacheops_get:
        return _original["first"](self)
    # the clones Django makes inside carry the flag: their fetch is a "get"
    self._cacheops_get = True
    try:
        return _original["first"](self)
    finally:
        self.__dict__.pop("_cacheops_get", None)


def _last(self: Any) -> Any:
    if result_cache(self) is not None or self._cacheops_get:
        return _original["last"](self)
    # the clones Django makes inside carry the flag: their fetch is a "get"
    self._cacheops_get = True
    try:
        return _original["last"](self)
    finally:
        self.__dict__.pop("_cacheops_get", None)


def _count(self: Any) -> int:
    if result_cache(self) is None:
        result = read(self, "count", lambda: _original["count"](self))
        if result is not MISSING:
            return result
    return _original["count"](self)


def _exists(self: Any) -> bool:
    if result_cache(self) is None:
        result = read(self, "exists", lambda: _original["exists"](self))
        if result is not MISSING:
            return result
    return _original["exists"](self)


def _aggregate(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if caching_profile(self, "aggregate") is not None:
        extra = repr((args, sorted(kwargs.items())))
        # expressions without a stable text (their repr shows an address) or reading subqueries
        if " at 0x" not in extra and "Subquery" not in extra and "Exists" not in extra:
            target = _aggregation(self, args, kwargs)
            if target is not None:
                result = read(
                    target, "aggregate", lambda: _original["aggregate"](self, *args, **kwargs), extra
                )
                if result is not MISSING:
                    return result
    return _original["aggregate"](self, *args, **kwargs)


def _aggregation(qs: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """A copy of ``qs`` whose query holds the joins the aggregates add (``Count("posts")`` reads
    the posts table), as Django's aggregate() resolves them; None when Django should report a
    mistake in the arguments itself."""
    named = dict(kwargs)
    for arg in args:
        try:
            named[arg.default_alias] = arg
        except (AttributeError, TypeError):
            return None
    target = clone(qs)
    query = target.query
    try:
        for expression in named.values():
            expression.resolve_expression(query, allow_joins=True, reuse=None, summarize=True)
    except Exception:
        return None
    return target


_CARRIED = (
    "_cacheops_ops",
    "_cacheops_timeout",
    "_cacheops_lock",
    "_cacheops_get",
    "_cacheops_shortcut",
    "_cacheops_known",
    "_cacheops_cloning",
)


def clone(self: Any) -> QuerySet:
    """A copy of the queryset with its cache options, also after :func:`inplace` (the copy
    then changes in place too)."""
    copy = _original[CLONE](self)
    d = self.__dict__
    for name in _CARRIED:
        if name in d:
            copy.__dict__[name] = d[name]
    return copy


def _clone(self: Any) -> QuerySet:
    if not self._cacheops_cloning:
        return self
    return clone(self)


def cache(self: Any, ops: Any = None, timeout: int | None = None, lock: bool | None = None) -> QuerySet:
    """A copy of the queryset cached for ``ops`` (all by default) with ``timeout`` and ``lock``.

    ``cache(ops=[])`` turns caching off. Needs a profile for the model in CACHEOPS.
    """
    _require_profile(self)
    if ops is None or ops == "all":
        ops = ALL_OPS
    elif isinstance(ops, str):
        ops = frozenset([ops])
    else:
        ops = frozenset(ops)
    unknown = ops - ALL_OPS
    if unknown:
        raise ValueError(f"unknown cacheops ops {sorted(unknown)}; use a subset of {sorted(ALL_OPS)}")
    qs = clone_queryset(self)
    qs._cacheops_ops = ops
    if timeout is not None:
        qs._cacheops_timeout = timeout
    if lock is not None:
        qs._cacheops_lock = lock
    return qs


def nocache(self: Any) -> Any:
    """A copy of the queryset that neither reads nor writes the cache."""
    if model_profile(self.model) is None:
        return self
    qs = clone_queryset(self)
    qs._cacheops_ops = frozenset()
    return qs


def inplace(self: Any) -> QuerySet:
    """Make further chained calls change this queryset instead of copying it."""
    self._cacheops_cloning = False
    return self


def cloning(self: Any, cloning: int = 1000) -> QuerySet:
    """Undo :func:`inplace`: chained calls copy the queryset again (``cloning(0)`` is
    ``inplace()``)."""
    self._cacheops_cloning = bool(cloning)
    return self


def invalidated_update(self: Any, **kwargs: Any) -> int:
    """``update(**kwargs)`` that also invalidates for every affected row's old and new values."""
    base = self.model._base_manager.using(self.db)
    attnames = [f.attname for f in self.model._meta.concrete_fields]
    with transaction.atomic(using=self.db):
        pks = list(self.nocache().values_list("pk", flat=True))
        old = list(base.filter(pk__in=pks).nocache().values(*attnames))
        count = self.model._base_manager.using(self.db).filter(pk__in=pks).update(**kwargs)
        new = list(base.filter(pk__in=pks).nocache().values(*attnames))
    if any(self.model._meta.get_field(name).primary_key for name in kwargs):
        # the rows were read back by their old primary keys: the new ones are unknown
        invalidate_model(self.model, self.db)
    else:
        invalidate_rows(self.model, old + new, self.db)
    return count


# ------------------------------------------------------------------ install

_installed = False


def install_queryset() -> None:
    """Give QuerySet and every manager the methods above (idempotent; run by ``install_cacheops()``)."""
    global _installed
    if _installed:
        return
    _installed = True
    patched = (FETCH_ALL, "get", "first", "last", "count", "exists", "aggregate", CLONE)
    for name in (*patched, FILTER_OR_EXCLUDE):
        _original[name] = getattr(QuerySet, name)
    patches: dict[str, Any] = {
        FETCH_ALL: _fetch_all,
        "get": _get,
        "first": _first,
        "last": _last,
        "count": _count,
        "exists": _exists,
        "aggregate": _aggregate,
        CLONE: _clone,
        FILTER_OR_EXCLUDE: _filter_or_exclude,
        "cache": cache,
        "nocache": nocache,
        "inplace": inplace,
        "cloning": cloning,
        "clone": clone,
        "invalidated_update": invalidated_update,
        "_cacheops_ops": None,
        "_cacheops_timeout": None,
        "_cacheops_lock": None,
        "_cacheops_get": False,
        "_cacheops_cloning": True,
    }
    for name, value in patches.items():
        setattr(QuerySet, name, value)
    for name in ("cache", "nocache", "inplace", "invalidated_update"):
        setattr(BaseManager, name, _manager_method(name))


def _manager_method(name: str) -> Any:
    def method(self: BaseManager, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.get_queryset(), name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = getattr(QuerySet, name).__doc__
    return method
