"""Stable cache keys: the same query or call gives the same key in every process."""

from __future__ import annotations

import datetime
import decimal
import hashlib
import inspect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Avg, Count, Field, Max, Min, Model, Sum
from django.db.models.base import ModelBase
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql.datastructures import BaseTable, Join
from django.db.models.sql.where import WhereNode

from .conditions import compile_query, dnfs
from .conf import on_change, settings
from .django_internals import (
    QUERY_BOOKKEEPING,
    given_output_field,
    iterable_class,
    query_state,
    values_fields,
)
from .redis import placed


@dataclass
class PrefixQuery:
    """What a CACHEOPS_PREFIX callable receives: the databases and tables an operation touches,
    and the function for ``@cached``/``@cached_as`` (None otherwise)."""

    dbs: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    func: Any = None

    @property
    def db(self) -> str:
        dbs = sorted(set(self.dbs))
        if len(dbs) != 1:
            raise ImproperlyConfigured(
                f"CACHEOPS_PREFIX asked for a single db, but this operation uses {dbs}"
            )
        return dbs[0]

    @property
    def table(self) -> str:
        tables = sorted(set(self.tables))
        if len(tables) != 1:
            raise ImproperlyConfigured(
                f"CACHEOPS_PREFIX asked for a single table, but this operation uses {tables}"
            )
        return tables[0]


def get_prefix(dbs: Iterable[str] = (), tables: Iterable[str] = (), func: Any = None) -> str:
    """The key prefix for an operation on ``dbs``/``tables`` ('' without CACHEOPS_PREFIX; a
    callable returning None means '' too).

    On a Redis Cluster an entry's keys go behind the hash tag of its shard as well (see
    :func:`cacheops.redis.placed`; :func:`queryset_prefix` gives the placed prefix)."""
    prefix = settings.CACHEOPS_PREFIX
    if prefix is None:
        return ""
    return prefix(PrefixQuery(dbs=list(dbs), tables=list(tables), func=func)) or ""


def plan_tables(qs: Any, plan: QueryPlan) -> list[str]:
    """The tables a query reads: from its remembered conditions, else from its joins."""
    if plan.conditions is not None:
        return list(plan.conditions)
    return [join.table_name for join in qs.query.alias_map.values()]


def queryset_prefix(qs: Any, plan: QueryPlan | None = None) -> str:
    """The key prefix of a queryset's entries (its database and the tables it reads; on a Redis
    Cluster behind the hash tag of the shard of the plan's key)."""
    if settings.CACHEOPS_PREFIX is None:
        prefix = ""
    elif plan is None:
        tables = [join.table_name for join in qs.query.alias_map.values()] or [qs.model._meta.db_table]
        prefix = get_prefix(dbs=[qs.db], tables=tables)
    else:
        prefix = get_prefix(dbs=[qs.db], tables=plan_tables(qs, plan))
    return prefix if plan is None else placed(prefix, plan.key)


def _param(value: Any) -> str:
    # psycopg wraps JSON values in adapter objects whose repr may carry an id()
    for attr in ("adapted", "obj"):
        inner = getattr(value, attr, None)
        if inner is not None and type(value).__module__.startswith("psycopg"):
            return repr(inner)
    return repr(value)


def digest(*parts: Any) -> str:
    """An md5 hex digest of the parts' text."""
    md5 = hashlib.md5(usedforsecurity=False)
    for part in parts:
        md5.update(part.encode() if isinstance(part, str) else repr(part).encode())
        md5.update(b"\x00")
    return md5.hexdigest()


_model_stamps: dict[type, str] = {}


def model_stamp(model: Any) -> str:
    """A short text that changes when the model's fields change, so old entries aren't read."""
    stamp = _model_stamps.get(model)
    if stamp is None:
        fields = ",".join(f"{f.column}:{f.get_internal_type()}" for f in model._meta.concrete_fields)
        stamp = f"{model._meta.label_lower}|{fields}"
        _model_stamps[model] = stamp
    return stamp


# ------------------------------------------------------------------ query fingerprints
#
# Compiling a query to SQL is the dearest part of a cache hit.  A fingerprint is a hashable
# picture of the query's state, built only for queries made of parts whose SQL is fully
# determined by what the picture holds (columns, plain values with their types, lookups on
# columns, joins, simple aggregates); anything else has no fingerprint and is compiled every time.
# Equal fingerprints mean the same SQL and parameters on the same database, so the key computed
# from the SQL once is reused.


class _Opaque(Exception):
    """Part of the query has no reliable fingerprint."""


SCALARS = frozenset(
    {
        int,
        str,
        bool,
        float,
        bytes,
        type(None),
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
    }
)
_AGGREGATES = frozenset({Count, Sum, Avg, Min, Max})
# bookkeeping of the query builder, caches derived from other attributes: no effect on the SQL
_DERIVED = QUERY_BOOKKEEPING


def _fp(value: Any) -> Any:
    kind = type(value)
    handler = _handlers.get(kind)
    if handler is None:
        handler = _handlers[kind] = _handler_for(kind)
    return handler(value)


def _plain(value: Any) -> Any:
    return (type(value), value)  # the type too: 1, 1.0 and True are equal but not the same SQL


def _by_text(value: Any) -> Any:
    # Decimal("1.0") and Decimal("1.00") (or 0.0 and -0.0) are equal but quoted differently
    return (type(value), repr(value))


def _itself(value: Any) -> Any:
    return value  # fields compare by creation order and model; models by identity


def _sequence(value: Any) -> Any:
    return (type(value), tuple([_fp(v) for v in value])) if value else (type(value),)


def _mapping(value: Any) -> Any:
    return (dict, tuple([(k, _fp(v)) for k, v in value.items()])) if value else (dict,)


def _unordered(value: Any) -> Any:
    return (frozenset, frozenset([_fp(v) for v in value])) if value else (frozenset,)


def _col(value: Any) -> Any:
    return (Col, value.alias, _fp(value.target), _fp(value.output_field))


def _where(value: Any) -> Any:
    children = value.children
    return (WhereNode, value.connector, value.negated, tuple([_fp(c) for c in children]) if children else ())


def _base_table(value: Any) -> Any:
    return (BaseTable, value.table_name, value.table_alias)


def _join(value: Any) -> Any:
    if value.filtered_relation is not None:
        raise _Opaque
    return (
        Join,
        value.table_name,
        value.parent_alias,
        value.table_alias,
        value.join_type,
        _fp(value.join_fields),
        _fp(value.join_field),
        value.nullable,
    )


def _aggregate(value: Any) -> Any:
    if value.filter is not None or value.default is not None or getattr(value, "order_by", None):
        raise _Opaque
    return (
        type(value),
        value.distinct,
        tuple([_fp(e) for e in value.get_source_expressions() if e is not None]),
        _fp(value.extra),
        _fp(given_output_field(value)),
    )


def _lookup(value: Any) -> Any:
    if getattr(value, "bilateral_transforms", None):
        raise _Opaque
    return (type(value), _fp(value.lhs), _fp(value.rhs))


def _opaque(value: Any) -> Any:
    raise _Opaque


def _handler_for(kind: type) -> Any:
    """How values of exactly this type are pictured (decided once per type)."""
    if kind in SCALARS:
        return _by_text if kind is float or kind is decimal.Decimal else _plain
    if kind in _AGGREGATES:
        return _aggregate
    if issubclass(kind, (Field, ModelBase)):
        return _itself
    if issubclass(kind, Lookup):
        return _lookup
    return _opaque


_handlers: dict[type, Any] = {
    tuple: _sequence,
    list: _sequence,
    dict: _mapping,
    set: _unordered,
    frozenset: _unordered,
    Col: _col,
    WhereNode: _where,
    BaseTable: _base_table,
    Join: _join,
}


def query_fingerprint(query: Any) -> tuple | None:
    """A hashable picture of everything in ``query`` that shapes its SQL, or None when some part
    of it can't be pictured reliably (expressions other than columns, lookups on columns and
    plain aggregates; subqueries; raw SQL)."""
    state = query_state(query)
    kind = (query.__class__, query.model)
    fresh = _fresh.get(kind)
    if fresh is None:
        fresh = _fresh[kind] = _fresh_query(*kind)
    if state == fresh[0]:
        return fresh[1]  # an untouched query of the model, as Model.objects.all() has
    return _picture(query.__class__, state)


def _picture(kind: type, state: dict[str, Any]) -> tuple | None:
    try:
        return (kind, *[(name, _fp(value)) for name, value in state.items() if name not in _DERIVED])
    except (_Opaque, TypeError):
        return None


# (Query class, model) -> (the state of a new such query, its fingerprint): most querysets start
# from one, and comparing states costs less than picturing them
_fresh: dict[tuple[type, Any], tuple[dict[str, Any] | None, tuple | None]] = {}


def _fresh_query(kind: type, model: Any) -> tuple[dict[str, Any] | None, tuple | None]:
    try:
        new = kind(model)
    except Exception:  # a Query subclass that needs more than the model: no shortcut
        return (None, None)
    state = dict(query_state(new))
    return (state, _picture(kind, state))


class Conditions(dict):
    """A query's ``{table: [conjunction, ...]}``, with its JSON for the store scripts kept."""

    encoded: str | None = None


class QueryPlan:
    """A query's cache key and the conditions that invalidate it (None until needed)."""

    __slots__ = ("key", "conditions", "from_aliases")

    def __init__(self, key: str, from_aliases: frozenset[str] | None = None) -> None:
        self.key = key
        self.conditions: dict[str, list[dict[str, str]]] | None = None
        self.from_aliases = from_aliases  # the aliases of the compiled FROM clause (None: unknown)

    def get_conditions(self, qs: Any) -> dict[str, list[dict[str, str]]]:
        """``{table: [conjunction, ...]}`` of the query (see :func:`cacheops.conditions.dnfs`), for the
        tables its compiled SQL reads (a table joined only to order or to select related rows
        matters whatever its row)."""
        if self.conditions is None:
            self.conditions = Conditions(dnfs(qs.query, connections[qs.db].vendor, self.from_aliases))
        return self.conditions


_plans: dict[tuple, QueryPlan] = {}
PLAN_MEMO_SIZE = 10_000


# Shortcuts (see ``cacheops.query``): what a get() with plain values, or a count/fetch/exists
# of a plain filter(), led to last time: the profile and plan, found without building the query.
_calls: dict[tuple, tuple[dict[str, Any], QueryPlan]] = {}
# filter() calls (base query fingerprint, negated, values) that were built without an error
_built_filters: set[tuple] = set()


def clear_plans() -> None:
    """Forget remembered keys and conditions (settings that shape them changed)."""
    _plans.clear()
    _calls.clear()
    _built_filters.clear()


@on_change
def _setting_changed(setting: str) -> None:
    # remembered conditions depend on CACHEOPS_SKIP_FIELDS and the like; the prefix itself is
    # read from the settings object on every use, so nothing else is kept
    clear_plans()


def remember_call(shortcut: tuple, profile: dict[str, Any], plan: QueryPlan) -> None:
    """Remember the profile and plan a shortcut (see ``cacheops.query``) led to."""
    if len(_calls) >= PLAN_MEMO_SIZE:
        _calls.clear()
    _calls[shortcut] = (profile, plan)


def remembered_call(shortcut: tuple) -> tuple[dict[str, Any], QueryPlan] | None:
    return _calls.get(shortcut)


def filter_built(pending: tuple) -> None:
    """Note that this filter() was built without an error (so it may be built later, lazily)."""
    if len(_built_filters) >= PLAN_MEMO_SIZE:
        _built_filters.clear()
    _built_filters.add(pending)


def filter_was_built(pending: tuple) -> bool:
    return pending in _built_filters


def scalar_key(value: Any) -> Any:
    """A hashable picture of a plain value that tells apart values giving different SQL
    (``1``, ``1.0`` and ``True``; ``Decimal("1.0")`` and ``Decimal("1.00")``), or NOT_PLAIN."""
    kind = type(value)
    if kind not in SCALARS:
        return NOT_PLAIN
    if kind is float or kind is decimal.Decimal:
        return (kind, repr(value))
    return (kind, value)


NOT_PLAIN: Any = object()


def query_plan(qs: Any, op: str, extra: Any = "", db_agnostic: bool = True) -> QueryPlan:
    """The :class:`QueryPlan` of a queryset operation.

    A query with a fingerprint is compiled once: its key and its conditions (worked out from the
    compiled query, which holds every join Django adds while compiling) are remembered."""
    query = qs.query
    fingerprint = query_fingerprint(query)
    memo_key = None
    if fingerprint is not None:
        memo_key = (
            fingerprint,
            qs.db,
            iterable_class(qs),
            op,
            extra,
            values_fields(qs),
            db_agnostic,
        )
        try:
            plan = _plans.get(memo_key)
        except TypeError:  # unhashable extra or fields
            plan = memo_key = None
        if plan is not None:
            return plan
    plan = _compile_plan(qs, op, extra, db_agnostic)
    if memo_key is not None:
        plan.get_conditions(qs)
        if len(_plans) >= PLAN_MEMO_SIZE:
            _plans.clear()
        _plans[memo_key] = plan
    return plan


def query_key(qs: Any, op: str, extra: Any = "", db_agnostic: bool = True) -> str:
    """The cache key of a queryset operation: its SQL and params, model, op and maybe its db."""
    return query_plan(qs, op, extra, db_agnostic).key


def _compile_plan(qs: Any, op: str, extra: Any, db_agnostic: bool) -> QueryPlan:
    sql, params, from_aliases = compile_query(qs.query, qs.db)
    parts = [
        model_stamp(qs.model),
        iterable_class(qs).__qualname__,
        op,
        sql,
        *map(_param, params),
        extra,
    ]
    fields = values_fields(qs)
    if fields:
        parts.append(repr(fields))
    if not db_agnostic:
        parts.append(qs.db)
    return QueryPlan("q:" + digest(*parts), from_aliases)


def _call_part(value: Any) -> Any:
    """What stands for an argument in a call's key: a saved instance by its model and primary
    key (two rows never share a key, whatever their ``__str__``), a function by its full name,
    containers by their items, anything else by its repr."""
    if isinstance(value, Model):
        return ("model", value._meta.label_lower, value.pk)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_call_part(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(repr(k), _call_part(v)) for k, v in value.items()])
    if inspect.isfunction(value) or inspect.ismethod(value):
        return ("function", f"{value.__module__}.{value.__qualname__}")
    return repr(value)


def func_key(func: Any, args: tuple, kwargs: dict, extra: Any = None) -> str:
    """The cache key of a call: the function's full name, the arguments and ``extra``."""
    name = f"{func.__module__}.{func.__qualname__}"
    return "c:" + digest(name, _call_part(args), _call_part(sorted(kwargs.items())), _call_part(extra))
