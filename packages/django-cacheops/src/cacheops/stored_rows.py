"""A row's current database values, read with a SELECT compiled once per model.

Before a save, cacheops reads the row's old values so it can also drop the cached queries the
row matched before the change. The ORM would build and compile
``model._base_manager.filter(pk=pk).values_list(*attnames)`` on every save; :func:`old_rows`
compiles that query once per (model, database alias, vendor), keeps its SQL text, and runs it
through ``connections[using].cursor()``: Django's execute wrappers, query logging and cacheops'
own write detection see it like any other SELECT. Values go through the same database
converters the ORM applies (backend and field ``from_db_value``), so they are equal to what
``values_list`` would return. Anything this module can't reproduce safely (another vendor, a
composite primary key, a base manager with its own ``get_queryset``, SQL that doesn't take the
primary key as its only parameter) is read through the ORM instead.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django.core.signals import setting_changed
from django.db import connections
from django.db.models import QuerySet
from django.db.models.manager import BaseManager

from .django_internals import compiled_columns, compiled_extra_select, queryset_class

__all__ = ["old_rows", "reset_old_rows"]

# vendors whose compiled SELECT by primary key is known to take the key as its only parameter
_VENDORS = frozenset({"sqlite", "postgresql", "mysql"})

PlanKey = tuple[type, str, str]  # (model, database alias, vendor)


class _Plan:
    """The compiled SELECT of one model on one database: SQL, attnames and select columns."""

    __slots__ = ("attnames", "columns", "pk_field", "sql")

    def __init__(self, sql: str, attnames: tuple[str, ...], columns: tuple[Any, ...], pk_field: Any) -> None:
        self.sql = sql
        self.attnames = attnames
        self.columns = columns
        self.pk_field = pk_field


# None marks a model read through the ORM on that database
_plans: dict[PlanKey, _Plan | None] = {}
# converters are built per connection object: the backend's hold on to their connection
_converters: WeakKeyDictionary[Any, dict[PlanKey, list[tuple[int, tuple[Any, ...], Any]]]] = (
    WeakKeyDictionary()
)


def reset_old_rows() -> None:
    """Forget every compiled SELECT and converter list (they are rebuilt on next use)."""
    _plans.clear()
    _converters.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    # MySQL picks its datetime converter by USE_TZ; the SQL may depend on the databases' options
    if setting in ("USE_TZ", "TIME_ZONE", "DATABASES"):
        reset_old_rows()


setting_changed.connect(_on_setting_changed, dispatch_uid="cacheops.stored_rows.reset")


def _attnames(model: Any) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _orm_old_rows(model: Any, pk: Any, using: str) -> list[dict[str, Any]]:
    """The row's values read through the ORM (never from the cache)."""
    attnames = _attnames(model)
    qs = model._base_manager.db_manager(using).filter(pk=pk).values_list(*attnames)
    qs._cacheops_ops = frozenset()  # the row as it is in the database, never from the cache
    return [dict(zip(attnames, row)) for row in qs]


def _prepare_pk(pk_field: Any, pk: Any, connection: Any) -> Any:
    """The query parameter the ORM sends for ``pk=pk``: prepared, then prepared for the database
    (a parent link of a multi-table child hands both steps to the parent's primary key)."""
    return pk_field.get_db_prep_value(pk_field.get_prep_value(pk), connection, prepared=True)


def _compile(model: Any, pk: Any, param: Any, using: str, connection: Any) -> _Plan | None:
    """Compile the SELECT of ``model``'s row by primary key, or None when the ORM must be used."""
    meta = model._meta
    if connection.vendor not in _VENDORS or getattr(meta, "is_composite_pk", False):
        return None
    manager = model._base_manager
    if type(manager).get_queryset is not BaseManager.get_queryset or queryset_class(manager) is not QuerySet:
        return None  # a base manager or queryset of its own may filter or convert in ways SQL can't keep
    attnames = _attnames(model)
    qs = manager.db_manager(using).filter(pk=pk).order_by().values_list(*attnames)
    compiler = qs.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    if len(params) != 1 or type(params[0]) is not type(param) or params[0] != param:
        return None
    query = qs.query
    columns = compiled_columns(compiler)
    # the rows come in attnames' order, as values_list reads them without reordering
    if query.extra_select or query.annotation_select or list(query.values_select) != attnames:
        return None
    if len(columns) != len(attnames) or compiled_extra_select(compiler):
        return None
    return _Plan(sql, tuple(attnames), columns, meta.pk)


def _converters_for(key: PlanKey, plan: _Plan, connection: Any) -> list[tuple[int, tuple[Any, ...], Any]]:
    """``[(position, converters, column)]`` as the ORM's compiler builds them for ``connection``."""
    per_connection = _converters.get(connection)
    if per_connection is None:
        per_connection = _converters[connection] = {}
    found = per_connection.get(key)
    if found is None:
        found = []
        for position, column in enumerate(plan.columns):
            funcs = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if funcs:
                found.append((position, tuple(funcs), column))
        per_connection[key] = found
    return found


_UNSET: Any = object()


def old_rows(model: Any, pk: Any, using: str) -> list[dict[str, Any]]:
    """The current database values of ``model``'s row with primary key ``pk`` on ``using``, as
    ``[{attname: value}]`` (an empty list when there is no such row).

    The values are those ``model._base_manager.filter(pk=pk).values_list(...)`` gives for the
    model's concrete fields (its multi-table parents' included), never read from the cache."""
    connection = connections[using]
    key: PlanKey = (model, using, connection.vendor)
    plan = _plans.get(key, _UNSET)
    if plan is None:
        return _orm_old_rows(model, pk, using)
    try:
        param = _prepare_pk(model._meta.pk if plan is _UNSET else plan.pk_field, pk, connection)
    except Exception:
        return _orm_old_rows(model, pk, using)  # a value the field refuses: the ORM says why
    if plan is _UNSET:
        try:
            plan = _compile(model, pk, param, using, connection)
        except Exception:  # whatever the ORM can't compile it reports itself, on its own path
            plan = None
        _plans[key] = plan
        if plan is None:
            return _orm_old_rows(model, pk, using)
    converters = _converters_for(key, plan, connection)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, (param,))
        rows = cursor.fetchall()
    attnames = plan.attnames
    result = []
    for row in rows:
        values = list(row)
        for position, funcs, column in converters:
            value = values[position]
            for func in funcs:
                value = func(value, column, connection)
            values[position] = value
        result.append(dict(zip(attnames, values)))
    return result
