"""Every private Django attribute cacheops reads, writes or replaces, in one place (issue 18).

Django documents ``QuerySet``'s public methods, ``Model._meta``, ``Model._default_manager``,
``Model._base_manager`` and ``instance._state.db``/``adding``; what is below is not documented and
may change in any release.  Each name is a small function or a constant with what it is and why
cacheops needs it; ``tests/test_django_internals.py`` tries each one on real querysets in every
Django the package supports, so a release that renames or changes one fails there by name, and
fails when another cacheops module uses one of these names itself.

The structure of ``Query`` itself (``where``, ``alias_map``, joins, lookups), which the
fingerprints (:mod:`cacheops.keys`) and the invalidation conditions (:mod:`cacheops.conditions`) walk, is
undocumented too but not private: it stays where it is read, and the same test file pins what is
read of it (``test_query_api_cacheops_reads``), as do the differential and plan tests.

Hot paths call these plain functions (no layers in between); a tight loop takes a constant.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet, deletion
from django.db.models.base import ModelState
from django.db.models.deletion import Collector
from django.db.models.sql.query import Query

__all__ = [
    "CHECK_FIRST_LAST",
    "CLONE",
    "DATABASE_ON_DELETE",
    "FETCH_ALL",
    "FIELDS_CACHE",
    "FILTER_OR_EXCLUDE",
    "PREFETCHED_OBJECTS_CACHE",
    "PEERS",
    "PREFETCH_RELATED_OBJECTS",
    "QUERY_BOOKKEEPING",
    "STATE",
    "STATE_UNPICKLED",
    "chain",
    "clone_queryset",
    "collector_data",
    "collector_fast_deletes",
    "collector_field_updates",
    "collector_using",
    "compile_watching_from",
    "compiled_columns",
    "compiled_extra_select",
    "database_on_delete",
    "default_ordering",
    "defer_filter",
    "deferred_filter",
    "fetch_all",
    "fetched_state",
    "filter_deferral_blocked",
    "first_last_check",
    "get_drops_ordering",
    "given_output_field",
    "iterable_class",
    "known_related_objects",
    "limit_rows",
    "mark_for_write",
    "prefetch_lookups",
    "prefetch_pending",
    "query_state",
    "queryset_class",
    "raw_query",
    "referenced_aliases",
    "result_cache",
    "run_prefetch",
    "set_result_cache",
    "state_dict",
    "values_fields",
]

# ------------------------------------------------------------------ QuerySet methods cacheops replaces

# QuerySet._fetch_all(): fills _result_cache; replaced so iteration, len() and bool() read the cache
FETCH_ALL = "_fetch_all"
# QuerySet._clone(): copies a queryset; replaced to carry the cacheops options and for inplace()
CLONE = "_clone"
# QuerySet._filter_or_exclude(): what filter()/exclude() run; replaced to defer a plain filter()
FILTER_OR_EXCLUDE = "_filter_or_exclude"
# QuerySet._prefetch_related_objects(): runs prefetch_related; replaced so prefetches inherit cache()
PREFETCH_RELATED_OBJECTS = "_prefetch_related_objects"
# QuerySet._check_ordering_first_last_queryset_aggregation(): the error afirst()/alast() must raise
CHECK_FIRST_LAST = "_check_ordering_first_last_queryset_aggregation"


# ------------------------------------------------------------------ QuerySet state


def result_cache(qs: QuerySet) -> list | None:
    """``qs._result_cache``: the fetched rows (None before a fetch); a cache hit fills it."""
    return qs._result_cache


def set_result_cache(qs: QuerySet, rows: list | None) -> None:
    """Set ``qs._result_cache``: rows read from the cache become the queryset's result."""
    qs._result_cache = rows


def iterable_class(qs: QuerySet) -> type:
    """``qs._iterable_class``: what turns rows into results (instances, values(), values_list());
    part of the cache key, and called to fetch rows on a miss."""
    return qs._iterable_class


def values_fields(qs: QuerySet) -> tuple[str, ...] | None:
    """``qs._fields``: the names given to values()/values_list() (None otherwise); part of the key."""
    return getattr(qs, "_fields", None)


def prefetch_lookups(qs: QuerySet) -> tuple:
    """``qs._prefetch_related_lookups``: pending prefetch_related(); such a get() has no shortcut."""
    return qs._prefetch_related_lookups  # type: ignore[attr-defined]


def prefetch_pending(qs: QuerySet) -> bool:
    """Whether a cache hit must still run prefetching (``_prefetch_related_lookups`` and not
    ``_prefetch_done``), as Django's _fetch_all() does after a fetch."""
    return bool(qs._prefetch_related_lookups) and not qs._prefetch_done  # type: ignore[attr-defined]


def run_prefetch(qs: QuerySet) -> None:
    """``qs._prefetch_related_objects()``: prefetch for rows a cache hit put in the result."""
    getattr(qs, PREFETCH_RELATED_OBJECTS)()


def known_related_objects(qs: QuerySet) -> dict:
    """``qs._known_related_objects``: instances a related manager sets on each row; such a
    queryset takes no shortcut (its rows are not just what the key says)."""
    return qs._known_related_objects  # type: ignore[attr-defined]


def fetch_all(qs: QuerySet) -> None:
    """``qs._fetch_all()``: fill the result (through the cache when cacheops is installed)."""
    getattr(qs, FETCH_ALL)()


def clone_queryset(qs: QuerySet) -> Any:
    """``qs._clone()``: a copy of the queryset (cacheops' own after install: options carried)."""
    return getattr(qs, CLONE)()


def chain(qs: QuerySet) -> Any:
    """``qs._chain()``: the copy a chained method makes (honours inplace() and sticky filters)."""
    return qs._chain()  # type: ignore[attr-defined]


def mark_for_write(qs: QuerySet) -> None:
    """Set ``qs._for_write``, as QuerySet.update() does, so ``qs.db`` asks the routers for writes."""
    qs._for_write = True  # type: ignore[attr-defined]


def get_drops_ordering(qs: QuerySet) -> bool:
    """Whether ``qs.get()`` fetches without ORDER BY, as Django's get() decides it (from the
    undocumented ``Query.can_filter()`` and ``Query.distinct_fields``): aget() builds the same query."""
    return qs.query.can_filter() and not qs.query.distinct_fields


def limit_rows(qs: QuerySet, high: int) -> None:
    """``qs.query.set_limits(high=high)``: the LIMIT Django's get() puts on its query in place
    (aget() builds the same query, so it reads the same cache key)."""
    qs.query.set_limits(high=high)


def default_ordering(qs: QuerySet) -> bool:
    """``qs.query.default_ordering``: False after ``order_by()`` cleared it; first()/last() order
    by pk only when the queryset is unordered and this is True (afirst()/alast() do the same)."""
    return qs.query.default_ordering


def first_last_check(qs: QuerySet) -> Any:
    """The bound ``_check_ordering_first_last_queryset_aggregation`` (None when Django has none):
    afirst()/alast() raise what first()/last() raise for an unordered aggregation."""
    return getattr(qs, CHECK_FIRST_LAST, None)


# ------------------------------------------------------------------ the deferred filter()


def raw_query(qs: QuerySet) -> Query:
    """``qs._query``: the query without a deferred filter applied (``qs.query`` would build it)."""
    return qs._query  # type: ignore[attr-defined]


def deferred_filter(qs: QuerySet) -> tuple | None:
    """``qs._deferred_filter``: ``(negate, args, kwargs)`` of a filter() not built yet, or None."""
    return qs._deferred_filter  # type: ignore[attr-defined]


def defer_filter(qs: QuerySet, negate: bool, args: tuple, kwargs: dict[str, Any]) -> None:
    """Leave filter(*args, **kwargs) (exclude() when ``negate``) in ``qs._deferred_filter``: Django
    builds it the moment anything reads ``qs.query``."""
    qs._deferred_filter = (negate, args, kwargs)  # type: ignore[attr-defined]


def filter_deferral_blocked(qs: QuerySet) -> bool:
    """Whether Django itself is in the middle of a filter: ``_defer_next_filter`` (a related
    manager's own deferred filter comes next) or ``_sticky_filter`` (the next filter reuses joins)."""
    return bool(qs._defer_next_filter or qs._sticky_filter)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ Query


# Query attributes that are bookkeeping of the query builder or caches derived from other
# attributes, with no effect on the SQL: the fingerprints (keys.py) leave them out
QUERY_BOOKKEEPING = frozenset(
    {
        "_annotation_select_cache",
        "_extra_select_cache",
        "_lookup_joins",
        "used_aliases",
        "filter_is_sticky",
        "base_table",
        "table_map",
    }
)


def query_state(query: Query) -> dict[str, Any]:
    """``query.__dict__``: Query keeps its whole state in instance attributes (no slots, nothing
    elsewhere), so the fingerprints picture it from there; the dict itself, not a copy."""
    return query.__dict__


def given_output_field(expression: Any) -> Any:
    """The output field an expression was given or has resolved, None when neither: the cached
    property ``output_field`` keeps it in the instance ``__dict__`` (reading the property would
    resolve it, which may raise)."""
    return expression.__dict__.get("output_field")


def referenced_aliases(query: Query) -> frozenset[str]:
    """The aliases ``query.alias_refcount`` counts as used: while the compiler builds the FROM
    clause, those are the tables the SQL reads (an unreferenced join is left out of it)."""
    return frozenset(alias for alias, count in query.alias_refcount.items() if count)


def compile_watching_from(query: Query, using: str) -> tuple[str, tuple, frozenset[str] | None]:
    """``(sql, params, aliases)``: ``query`` compiled by its SQLCompiler, with
    :func:`referenced_aliases` read as the compiler's undocumented ``get_from_clause()`` starts
    (None when it never ran: a combined query builds its parts with compilers of their own)."""
    compiler = query.get_compiler(using)
    seen: list[frozenset[str]] = []
    original = compiler.get_from_clause

    def get_from_clause() -> Any:
        seen.append(referenced_aliases(query))
        return original()

    compiler.get_from_clause = get_from_clause
    sql, params = compiler.as_sql()
    return sql, tuple(params), (seen[0] if seen else None)


def compiled_columns(compiler: Any) -> tuple:
    """The columns of ``compiler.select`` (set up by ``as_sql()``), in the order rows hold them:
    oldrows converts the values of its raw SELECT with each column's converters."""
    return tuple(select[0] for select in compiler.select)


def compiled_extra_select(compiler: Any) -> bool:
    """``compiler.has_extra_select`` (set up by ``as_sql()``): columns added for ordering or extra(),
    which oldrows' raw SELECT does not expect."""
    return bool(compiler.has_extra_select)


# ------------------------------------------------------------------ managers and model instances


def queryset_class(manager: Any) -> type:
    """``manager._queryset_class``: the QuerySet class a manager builds; oldrows reads rows with
    raw SQL only for the plain QuerySet (another may filter or convert)."""
    return manager._queryset_class


# Model instance attributes: ``_state`` (its ModelState) and ``_prefetched_objects_cache`` (what
# prefetch_related put on it): rows.py stores a row compactly only without the latter
STATE = "_state"
PREFETCHED_OBJECTS_CACHE = "_prefetched_objects_cache"
# ModelState.__dict__ keys: ``fields_cache`` (related objects select_related put on the row) and
# ``peers`` (Django 6.1: weak references to the rows fetched with it, never pickled nor copied)
FIELDS_CACHE = "fields_cache"
PEERS = "peers"
STATE_UNPICKLED = (FIELDS_CACHE, PEERS)


def state_dict(obj: Model) -> dict[str, Any]:
    """``obj._state.__dict__``: the ModelState's own values (db, adding, fields_cache, ...), which a
    compact row stores once for all rows of a result."""
    return obj._state.__dict__


def fetched_state() -> dict[str, Any]:
    """The ``ModelState.__dict__`` of a row a plain queryset fetched (``db`` set to None):
    ``Model.from_db`` sets ``adding`` and ``db``, and Django 6.1's iterator the queryset's
    ``fetch_mode`` (by default the one ModelState's descriptor gives). rows.py stores no state for
    rows whose state is this one with their database."""
    state = ModelState()
    state.adding = False
    state.db = None
    if "fetch_mode" in ModelState.__dict__:  # Django 6.1: reading it sets the default
        state.fetch_mode  # noqa: B018
    return dict(state.__dict__)


# ------------------------------------------------------------------ deletion: Collector, on_delete


def collector_data(collector: Collector) -> dict[Any, Any]:
    """``collector.data``: ``{model: instances}`` Collector.delete() deletes (sending signals); the
    auto-created m2m through rows among them are invalidated by cacheops (they send none)."""
    return collector.data


# Django 6.1's class of on_delete=DB_CASCADE, DB_SET_NULL and DB_SET_DEFAULT (None before): the
# database deletes or updates those rows itself, unseen by the Collector, so cacheops must know them
DATABASE_ON_DELETE: Any = getattr(deletion, "DatabaseOnDelete", None)


def database_on_delete(on_delete: Any) -> str | None:
    """The SQL action (``"CASCADE"``, ``"SET NULL"``, ``"SET DEFAULT"``: its ``operation``) of a
    database-level ``on_delete``; None for the ones Django runs itself (CASCADE, SET_NULL, ...)."""
    if DATABASE_ON_DELETE is None or not isinstance(on_delete, DATABASE_ON_DELETE):
        return None
    return on_delete.operation


def collector_using(collector: Collector) -> str:
    """``collector.using``: the database Collector.delete() deletes from (and cacheops invalidates on)."""
    return collector.using


def collector_fast_deletes(collector: Collector) -> list:
    """``collector.fast_deletes``: querysets Collector.delete() deletes without loading or signals."""
    return collector.fast_deletes


def collector_field_updates(collector: Collector) -> Any:
    """``collector.field_updates``: ``{(field, value): [instances or queryset, ...]}`` of the rows
    on_delete=SET_NULL/SET_DEFAULT/SET() updates without signals."""
    return collector.field_updates
