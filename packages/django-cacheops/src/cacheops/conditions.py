"""Turn a query's WHERE into per-table disjunctions of conjunctions (``dnfs``).

A conjunction is a dict ``{column: value}`` of ``exact``/``in``/``isnull=True``
conditions; an empty dict matches every row (a wildcard). A saved row can change
the result of a query only if, on some table the query reads, its old or new
values satisfy one of that table's conjunctions.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from itertools import product
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In, IsNull
from django.db.models.sql.constants import LOUTER
from django.db.models.sql.query import Query
from django.db.models.sql.where import AND, OR, WhereNode

from .conf import settings
from .django_internals import compile_watching_from

Conj = frozenset  # of (alias, column, encoded value)
TRUE: list[Conj] = [frozenset()]
NULL = "\x00"


class Skip(Exception):
    """The value can't be compared reliably: the condition becomes a wildcard."""


def encode(value: Any, vendor: str = "") -> str:
    """The canonical text of a prepared field value, equal for the query side and the row side."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if vendor == "mysql":  # collations compare case- and accent-insensitively
            raise Skip
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, float):
        return repr(value + 0.0)  # -0.0 == 0.0 in SQL: one text for both
    raise Skip


def skipped_field(field: Any) -> bool:
    """Whether conditions on this field never narrow invalidation (CACHEOPS_SKIP_FIELDS names
    internal types, e.g. "TextField", and matches subclasses of such field classes too)."""
    skip = settings.CACHEOPS_SKIP_FIELDS
    return field.get_internal_type() in skip or any(cls.__name__ in skip for cls in type(field).__mro__)


def _leaf(lookup: Any, aliases: dict, vendor: str) -> list[Conj]:
    lhs = lookup.lhs
    if not isinstance(lhs, Col) or lhs.alias not in aliases:
        return TRUE
    target = lhs.target
    if skipped_field(target) or target.get_internal_type() == "JSONField":
        # JSON values compare as JSON in the database (1 = 1.0, key order...): no narrowing
        return TRUE
    try:
        return _lookup_conjs(lookup, lhs.alias, target.column, aliases, vendor)
    except Skip:
        return TRUE


def _lookup_conjs(lookup: Any, alias: str, column: str, aliases: dict, vendor: str) -> list[Conj]:
    """The conjunctions of an ``isnull``/``exact``/``in`` condition on ``alias.column``; raises
    :class:`Skip` for a value :func:`encode` can't compare."""
    rhs = lookup.rhs
    if isinstance(lookup, IsNull):
        # on a LEFT OUTER joined table IS NULL also holds where no row joins at all: any
        # row of that table could change the result
        if rhs is True and aliases[alias].join_type != LOUTER:
            return [frozenset({(alias, column, NULL)})]
        return TRUE
    if isinstance(lookup, Exact):
        if hasattr(rhs, "resolve_expression"):
            return TRUE
        return [frozenset({(alias, column, encode(rhs, vendor))})]
    if isinstance(lookup, In):
        if hasattr(rhs, "resolve_expression") or not isinstance(rhs, (list, tuple, set, frozenset)):
            return TRUE
        values = list(rhs)
        if len(values) > settings.CACHEOPS_LONG_DISJUNCTION:
            return TRUE
        return [frozenset({(alias, column, encode(v, vendor))}) for v in values]
    return TRUE


MAX_CONJS = 256


def _and(parts: list[list[Conj]]) -> list[Conj]:
    size = 1
    for part in parts:
        size *= len(part)
    if size > MAX_CONJS:  # too many combinations: keep only the most selective part
        parts = [min(parts, key=len)]
    result: list[Conj] = []
    for combo in product(*parts):
        conj = frozenset().union(*combo)
        # col=1 AND col=2 matches nothing: drop such conjunctions
        seen: dict = {}
        if any(seen.setdefault((a, c), v) != v for a, c, v in conj):
            continue
        result.append(conj)
    return result


def _where_dnf(node: Any, aliases: dict, vendor: str) -> list[Conj]:
    if isinstance(node, WhereNode):
        if node.negated:
            return TRUE
        parts = [_where_dnf(child, aliases, vendor) for child in node.children]
        if not parts:
            return TRUE
        if node.connector == OR:
            return [conj for part in parts for conj in part]
        if node.connector == AND:
            # wildcard parts don't narrow a conjunction
            narrowing = [p for p in parts if p != TRUE]
            return _and(narrowing) if narrowing else TRUE
        return TRUE
    if isinstance(node, (Exact, In, IsNull)):
        return _leaf(node, aliases, vendor)
    return TRUE


def _subqueries(expr: Any, found: list, seen: set) -> None:
    """Collect Query objects nested anywhere inside an expression tree."""
    if expr is None or id(expr) in seen:
        return
    seen.add(id(expr))
    if isinstance(expr, Query):
        found.append(expr)
        return
    if isinstance(expr, WhereNode):
        for child in expr.children:
            _subqueries(child, found, seen)
        return
    inner = getattr(expr, "query", None)
    if isinstance(inner, Query):
        found.append(inner)
    for attr in ("lhs", "rhs"):
        _subqueries(getattr(expr, attr, None), found, seen)
    if isinstance(expr, (list, tuple)):
        for item in expr:
            _subqueries(item, found, seen)
        return
    getter = getattr(expr, "get_source_expressions", None)
    if getter is not None and not isinstance(expr, type):
        try:
            sources = getter()
        except TypeError:
            return
        for source in sources:
            _subqueries(source, found, seen)


def _select_related_tables(model: Any, spec: Any, max_depth: int, depth: int = 1) -> set[str]:
    """Tables ``select_related(spec)`` joins from ``model`` (``True``: every non-null FK, as Django)."""
    tables: set[str] = set()
    if spec is True:
        if max_depth and depth > max_depth:
            return tables
        related = [f for f in model._meta.concrete_fields if f.is_relation and not f.null]
        nested: dict[str, Any] = {f.name: True for f in related}
    else:
        nested = spec
    for name, sub in nested.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        target = field.related_model
        if target is None:
            continue
        tables.add(target._meta.db_table)
        tables.update(parent._meta.db_table for parent in target._meta.get_parent_list())
        if sub:
            tables |= _select_related_tables(target, sub, max_depth, depth + 1)
    return tables


def compile_query(query: Query, using: str) -> tuple[str, tuple, frozenset[str] | None]:
    """``(sql, params, aliases)``: ``query`` compiled, and the aliases its FROM clause holds.

    Django counts references to a join while it compiles (ordering by a related field and
    select_related add joins then) and puts the counts back afterwards, so a query compiled
    before (``str(qs.query)``, or a clone of an evaluated queryset) holds such a join with a
    count of 0 although its SQL joins it. The FROM clause is the one place that says which
    tables the SQL reads; ``aliases`` is None when it was not built here (a combined query)."""
    return compile_watching_from(query, using)


def _read_aliases(query: Query, from_aliases: frozenset[str] | None) -> set[str]:
    """The aliases whose tables ``query`` reads: those of its FROM clause when known, else every
    alias it has (a join left from building or compiling included: coarser, never missing one)."""
    if from_aliases is not None:
        return {*from_aliases, query.base_table} if query.base_table else set(from_aliases)
    return set(query.alias_map)


def _join_edges(query: Query, aliases: set[str]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """``{(alias, column): [(alias, column), ...]}``: the columns each join makes equal."""
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for alias, join in query.alias_map.items():
        parent = getattr(join, "parent_alias", None)
        if parent is None or alias not in aliases or parent not in aliases:
            continue
        for parent_column, column in getattr(join, "join_cols", ()):
            edges.setdefault((parent, parent_column), []).append((alias, column))
            edges.setdefault((alias, column), []).append((parent, parent_column))
    return edges


def _propagate(dnf: list[Conj], edges: dict[tuple[str, str], list[tuple[str, str]]]) -> list[Conj]:
    """Each conjunction with the conditions its joins imply: ``a.x = 1`` and a join on
    ``a.x = b.y`` give ``b.y = 1`` (so a joined table is narrowed too). Conjunctions that turn out
    contradictory are dropped."""
    if not edges:
        return dnf
    result: list[Conj] = []
    for conj in dnf:
        values = {(a, c): v for a, c, v in conj}
        todo = [key for key in values if values[key] != NULL]
        possible = True
        while todo and possible:
            key = todo.pop()
            for other in edges.get(key, ()):
                known = values.get(other)
                if known is None:
                    values[other] = values[key]
                    todo.append(other)
                elif known != values[key]:
                    possible = False
                    break
        if possible:
            result.append(frozenset((a, c, v) for (a, c), v in values.items()))
    return result


def dnfs(
    query: Query, vendor: str = "", from_aliases: frozenset[str] | None = None
) -> dict[str, list[dict[str, str]]]:
    """``{table: [conjunction, ...]}`` for every table ``query`` (and its subqueries) reads;
    ``from_aliases``: the aliases of its FROM clause (see :func:`compile_query`), None when not
    known (every alias counts then)."""
    result = _own_tables(query, vendor, from_aliases)
    for sub in _nested_queries(query):
        for table, conjs in dnfs(sub, vendor).items():
            bucket = result.setdefault(table, set())
            bucket.update(frozenset(c.items()) for c in conjs)

    return {table: _minimize(conjs) for table, conjs in result.items()}


def _own_tables(query: Query, vendor: str, from_aliases: frozenset[str] | None) -> dict[str, set[frozenset]]:
    """``{table: {conjunction, ...}}`` for the tables ``query`` itself reads (its subqueries
    left out), a conjunction as a frozenset of ``(column, value)``."""
    joins = query.alias_map
    aliases = _read_aliases(query, from_aliases)
    dnf = _propagate(_where_dnf(query.where, joins, vendor) or TRUE, _join_edges(query, aliases))
    result: dict[str, set[frozenset]] = {}
    for alias, join in joins.items():
        table = join.table_name
        if alias not in aliases:
            continue
        bucket = result.setdefault(table, set())
        for conj in dnf:
            bucket.add(frozenset((c, v) for a, c, v in conj if a == alias))
    for table in query.extra_tables:
        result.setdefault(table, set()).add(frozenset())
    # select_related joins are added while compiling and left with refcount 0, so they are
    # found from the query's select_related spec instead: any change to those rows matters.
    if query.select_related and query.model is not None:
        for table in _select_related_tables(query.model, query.select_related, query.max_depth):
            result.setdefault(table, set()).add(frozenset())
    return result


def _nested_queries(query: Query) -> list[Query]:
    """The queries nested in ``query``: subqueries of its WHERE, annotations, SELECT, ORDER BY
    and GROUP BY, then the parts of a union/intersection/difference."""
    found: list[Query] = []
    seen: set = set()
    sources = [query.where, *query.annotations.values(), *(query.select or ())]
    sources += [o for o in (query.order_by or ()) if not isinstance(o, str)]
    if isinstance(query.group_by, tuple):
        sources += list(query.group_by)
    for source in sources:
        _subqueries(source, found, seen)
    found += list(getattr(query, "combined_queries", ()) or ())
    return found


def _minimize(conjs: set[frozenset]) -> list[dict[str, str]]:
    """Drop conjunctions implied by a smaller one (a wildcard swallows everything)."""
    if frozenset() in conjs:
        return [{}]
    ordered = sorted(conjs, key=len)
    kept: list[frozenset] = []
    for conj in ordered:
        if not any(k <= conj for k in kept):
            kept.append(conj)
    return [dict(conj) for conj in kept]
