"""Every private Django attribute cacheops touches (``cacheops.django_internals``), tried on real
querysets, instances and collectors of the test models.

A Django release that renames, removes or changes one of them fails here, under the name of the
function or constant that reads it, before any caching test trips over it in a less clear way.
These run in every Django cell of the test matrix."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import router
from django.db.models import Count, FloatField, IntegerField, Manager, QuerySet, Sum
from django.db.models.base import ModelState
from django.db.models.deletion import Collector
from django.db.models.query import FlatValuesListIterable, ModelIterable, ValuesIterable
from django.db.models.sql.query import Query

from cacheops import django_internals as internals
from cacheops.django_internals import (
    CHECK_FIRST_LAST,
    CLONE,
    DATABASE_ON_DELETE,
    FETCH_ALL,
    FIELDS_CACHE,
    FILTER_OR_EXCLUDE,
    PEERS,
    PREFETCH_RELATED_OBJECTS,
    PREFETCHED_OBJECTS_CACHE,
    QUERY_BOOKKEEPING,
    STATE,
    STATE_UNPICKLED,
    chain,
    clone_queryset,
    collector_data,
    collector_fast_deletes,
    collector_field_updates,
    collector_using,
    compile_watching_from,
    compiled_columns,
    compiled_extra_select,
    database_on_delete,
    default_ordering,
    defer_filter,
    deferred_filter,
    fetch_all,
    fetched_state,
    filter_deferral_blocked,
    first_last_check,
    get_drops_ordering,
    given_output_field,
    iterable_class,
    known_related_objects,
    limit_rows,
    mark_for_write,
    prefetch_lookups,
    prefetch_pending,
    query_state,
    queryset_class,
    raw_query,
    referenced_aliases,
    result_cache,
    run_prefetch,
    set_result_cache,
    state_dict,
    values_fields,
)
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db

POST = Post._meta.db_table
CATEGORY = Category._meta.db_table


def test_every_name_is_tested():
    """A new function or constant in the module gets a test here (this file names them all)."""
    source = Path(__file__).read_text(encoding="utf-8")
    untested = [name for name in internals.__all__ if len(re.findall(rf"\b{name}\b", source)) < 2]
    assert not untested, f"cacheops.django_internals names without a test: {untested}"


# Django's private names cacheops has needed so far: only cacheops.django_internals may use them
# (as an attribute, or a string given to getattr()/setattr()), as may ``instance._state.__dict__``.
PRIVATE = frozenset(
    {
        "_annotation_select_cache",
        "_chain",
        "_check_ordering_first_last_queryset_aggregation",
        "_clone",
        "_db",
        "_defer_next_filter",
        "_deferred_filter",
        "_extra_select_cache",
        "_fetch_all",
        "_fields",
        "_filter_or_exclude",
        "_filter_or_exclude_inplace",
        "_for_write",
        "_hints",
        "_iterable_class",
        "_known_related_objects",
        "_lookup_joins",
        "_next_is_sticky",
        "_prefetch_done",
        "_prefetch_related_lookups",
        "_prefetch_related_objects",
        "_prefetched_objects_cache",
        "_query",
        "_queryset_class",
        "_result_cache",
        "_sticky_filter",
        "alias_refcount",
        "fast_deletes",
        "field_updates",
        "fields_cache",
        "get_from_clause",
        "has_extra_select",
        "peers",
        "_state.__dict__",
        "DatabaseOnDelete",
    }
)
# uses left in modules other helpers are changing now (issue 18 moves them next); shrink only
LEFT: dict[str, set[str]] = {}
SOURCE = Path(__file__).resolve().parents[1] / "src" / "cacheops"


def private_uses(path: Path) -> dict[str, list[int]]:
    """``{name: [line, ...]}`` of the PRIVATE names ``path`` uses."""
    found: dict[str, list[int]] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name == "__dict__" and isinstance(node.value, ast.Attribute) and node.value.attr == "_state":
                name = "_state.__dict__"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value
        if name in PRIVATE:
            found.setdefault(name, []).append(node.lineno)
    return found


def test_private_django_names_only_in_django_internals():
    strays = {}
    for path in sorted(SOURCE.glob("*.py")):
        if path.name == "django_internals.py":
            continue
        uses = {
            name: lines for name, lines in private_uses(path).items() if name not in LEFT.get(path.name, ())
        }
        if uses:
            strays[path.name] = uses
    assert not strays, f"private Django names outside cacheops.django_internals (file: name: lines): {strays}"


def test_the_scan_finds_private_names():
    uses = private_uses(SOURCE / "django_internals.py")
    assert {"_result_cache", "_deferred_filter", "alias_refcount", "_state.__dict__"} <= set(uses)


# ------------------------------------------------------------------ QuerySet methods cacheops replaces


@pytest.mark.parametrize("name", [FETCH_ALL, CLONE, FILTER_OR_EXCLUDE])
def test_replaced_queryset_methods_are_djangos(name):
    from cacheops import query

    original = query._original[name]
    assert callable(original), f"QuerySet.{name} is gone: cacheops replaces it"
    assert original.__module__ == "django.db.models.query", f"QuerySet.{name} is not Django's own"


def test_prefetch_related_objects_is_djangos():
    from cacheops import prefetch

    original = prefetch._original[PREFETCH_RELATED_OBJECTS]
    assert original.__module__ == "django.db.models.query", f"QuerySet.{PREFETCH_RELATED_OBJECTS} changed"


def test_first_last_check(posts):
    unordered = Post.objects.values("category").annotate(n=Count("id"))
    check = first_last_check(unordered)
    assert check is not None, (
        f"QuerySet.{CHECK_FIRST_LAST} is gone: afirst()/alast() can't raise as first()/last()"
    )
    with pytest.raises(TypeError, match="first"):
        check(method="first")
    with pytest.raises(TypeError) as native:
        unordered.nocache().first()
    with pytest.raises(TypeError) as ours:
        check(method="first")
    assert str(ours.value) == str(native.value)


def test_get_drops_ordering(posts):
    assert get_drops_ordering(Post.objects.order_by("title"))
    assert not get_drops_ordering(Post.objects.all()[:2]), "a sliced queryset can't be filtered"
    assert not get_drops_ordering(Post.objects.order_by("title").distinct("title"))
    qs = Post.objects.filter(title="p1")
    limit_rows(qs, 21)
    assert (qs.query.low_mark, qs.query.high_mark) == (0, 21)
    assert [p.title for p in qs] == ["p1"]


def test_default_ordering():
    assert default_ordering(Post.objects.all())
    assert not default_ordering(Post.objects.order_by())


# ------------------------------------------------------------------ QuerySet state


def test_result_cache(posts, queries):
    qs = Category.objects.order_by("pk")
    assert result_cache(qs) is None
    rows = list(qs)
    assert result_cache(qs) == rows
    fresh = Category.objects.order_by("pk")
    set_result_cache(fresh, rows[:1])
    with queries() as counted:
        assert list(fresh) == rows[:1]
        assert len(fresh) == 1
    assert counted.count == 0, "a queryset with _result_cache set must not query"


def test_fetch_all(posts):
    qs = Category.objects.order_by("pk")
    fetch_all(qs)
    assert [c.title for c in result_cache(qs) or []] == ["a", "b"]


def test_iterable_class(posts):
    assert iterable_class(Post.objects.all()) is ModelIterable
    assert iterable_class(Post.objects.values("title")) is ValuesIterable
    flat = Post.objects.filter(title="p1").values_list("title", flat=True)
    assert iterable_class(flat) is FlatValuesListIterable
    assert list(iterable_class(flat)(flat)) == ["p1"], "the iterable class fetches the rows of its queryset"


def test_values_fields():
    assert values_fields(Post.objects.all()) in (None, ())
    assert values_fields(Post.objects.values("title", "rating")) == ("title", "rating")
    assert values_fields(Post.objects.values_list("title")) == ("title",)


def test_prefetch(posts, queries):
    plain = Category.objects.all()
    assert prefetch_lookups(plain) == ()
    assert not prefetch_pending(plain)
    qs = Category.objects.order_by("pk").prefetch_related("posts")
    assert prefetch_lookups(qs) == ("posts",)
    assert prefetch_pending(qs)
    set_result_cache(qs, list(Category.objects.order_by("pk").nocache()))
    run_prefetch(qs)
    assert not prefetch_pending(qs), "prefetching must mark itself done"
    rows = result_cache(qs) or []
    assert all(PREFETCHED_OBJECTS_CACHE in row.__dict__ for row in rows)
    with queries() as counted:
        assert sorted(p.title for p in rows[0].posts.all()) == ["p1", "p2"]
    assert counted.count == 0


def test_known_related_objects(posts):
    a, _ = posts
    assert known_related_objects(Post.objects.all()) == {}
    related = a.posts.all()
    known = known_related_objects(related)
    assert known, "a related manager's queryset knows the instance it belongs to"
    assert a in [obj for by_pk in known.values() for obj in by_pk.values()]


def test_clone_queryset():
    qs = Post.objects.filter(title="x").cache(ops=["fetch"])
    copy = clone_queryset(qs)
    assert copy is not qs
    assert str(copy.query) == str(qs.query)
    assert copy._cacheops_ops == frozenset({"fetch"})
    inplace = Post.objects.all().inplace()
    assert clone_queryset(inplace) is inplace


def test_chain():
    qs = Post.objects.all()
    assert chain(qs) is not qs
    assert str(chain(qs).query) == str(qs.query)


def test_mark_for_write(monkeypatch):
    monkeypatch.setattr(router, "db_for_read", lambda model, **hints: "read-db")
    monkeypatch.setattr(router, "db_for_write", lambda model, **hints: "write-db")
    qs = Post.objects.all()
    assert qs.db == "read-db"
    mark_for_write(qs)
    assert qs.db == "write-db"


# ------------------------------------------------------------------ the deferred filter()


def test_deferred_filter(posts):
    qs = chain(Post.objects.order_by("pk"))
    assert deferred_filter(qs) is None
    defer_filter(qs, False, (), {"title": "p1"})
    assert deferred_filter(qs) == (False, (), {"title": "p1"})
    assert not raw_query(qs).where, "the raw query doesn't hold the deferred filter"
    assert qs.query.where, "reading qs.query builds the deferred filter"
    assert deferred_filter(qs) is None
    assert [p.title for p in qs] == ["p1"]
    excluded = chain(Post.objects.order_by("pk"))
    defer_filter(excluded, True, (), {"title": "p1"})
    assert [p.title for p in excluded] == ["p2", "p3"]


def test_raw_query_is_the_query():
    qs = Post.objects.filter(title="p1")
    assert raw_query(qs) is qs.query


def test_filter_deferral_blocked(posts, monkeypatch):
    assert not filter_deferral_blocked(Post.objects.all())
    sticky = Post.objects.all()._next_is_sticky()
    assert filter_deferral_blocked(sticky), "a sticky filter must block the deferral"
    seen = []
    original = getattr(QuerySet, FILTER_OR_EXCLUDE)

    def watching(self, negate, args, kwargs):
        seen.append(filter_deferral_blocked(self))
        return original(self, negate, args, kwargs)

    monkeypatch.setattr(QuerySet, FILTER_OR_EXCLUDE, watching)
    a, _ = posts
    assert sorted(p.title for p in a.posts.all()) == ["p1", "p2"]
    assert True in seen, "a related manager's own filter() must be seen as blocked (_defer_next_filter)"


# ------------------------------------------------------------------ Query


def test_query_bookkeeping_names_exist(posts):
    qs = Post.objects.filter(category__title="a").annotate(n=Count("id")).extra(select={"one": "1"})
    list(qs)
    query = qs.query
    query.annotation_select  # noqa: B018 - fills the cache
    missing = [name for name in QUERY_BOOKKEEPING if not hasattr(Query, name) and name not in query.__dict__]
    assert not missing, f"Query has no {missing}: the fingerprints would picture what replaced them"


def test_referenced_aliases():
    qs = Post.objects.filter(category__title="a")
    assert referenced_aliases(qs.query) == {POST, CATEGORY}
    assert referenced_aliases(Post.objects.all().query) <= {POST}


def test_compile_watching_from():
    qs = Post.objects.filter(category__title="a").order_by("category__title")
    sql, params, aliases = compile_watching_from(qs.query, "default")
    native_sql, native_params = qs.query.get_compiler("default").as_sql()
    assert (sql, params) == (native_sql, tuple(native_params))
    assert aliases == {POST, CATEGORY}
    ordered = Post.objects.order_by("category__title")  # the join is added while compiling
    assert compile_watching_from(ordered.query, "default")[2] == {POST, CATEGORY}
    combined = Post.objects.filter(rating=1).union(Post.objects.filter(rating=2))
    assert compile_watching_from(combined.query, "default")[2] is None, (
        "a combined query has no FROM of its own"
    )


def test_compiled_columns(posts):
    qs = Post.objects.filter(pk=1).order_by().values_list("id", "title")
    compiler = qs.query.get_compiler(using="default")
    compiler.as_sql()
    columns = compiled_columns(compiler)
    assert [column.target.attname for column in columns] == ["id", "title"]
    assert not compiled_extra_select(compiler)
    ordered = Post.objects.order_by("category__title").values_list("title")
    compiler = ordered.query.get_compiler(using="default")
    compiler.as_sql()
    assert len(compiled_columns(compiler)) == 1
    # DISTINCT with an ORDER BY column it doesn't select: the compiler selects that column too
    extra = Post.objects.values_list("title").distinct().order_by("rating")
    compiler = extra.query.get_compiler(using="default")
    compiler.as_sql()
    assert compiled_extra_select(compiler) is True


# The undocumented Query API the fingerprints (keys.py), the conditions (tree.py) and the read
# paths (reads.py, aio.py, bulk.py) read without a function here: each must still be there and
# mean what cacheops takes it to mean.


def test_query_api_cacheops_reads(posts):
    a, _ = posts
    plain = Post.objects.all().query
    assert plain.combinator is None and not plain.is_sliced and not plain.select_for_update
    assert plain.model is Post and plain.base_table in (None, POST)
    assert Post.objects.union(Post.objects.all()).query.combinator == "union"
    assert Post.objects.all()[:1].query.is_sliced
    assert Post.objects.select_for_update().query.select_for_update
    query = Post.objects.filter(category__title="a").select_related("category").query
    assert set(query.alias_map) == {POST, CATEGORY}
    join = query.alias_map[CATEGORY]
    assert (join.table_name, join.parent_alias, join.table_alias) == (CATEGORY, POST, CATEGORY)
    assert join.filtered_relation is None and join.join_type in ("INNER JOIN", "LEFT OUTER JOIN")
    # read with getattr(..., default) in tree.py: a rename would silently drop join propagation
    assert join.join_cols == (("category_id", "id"),), "Join.join_cols: the columns a join makes equal"
    assert join.join_field is Post._meta.get_field("category") and isinstance(join.nullable, bool)
    assert join.join_fields
    assert query.where.children and query.where.connector == "AND" and not query.where.negated
    lookup = query.where.children[0]
    assert (lookup.lhs.alias, lookup.lhs.target.attname, lookup.rhs) == (CATEGORY, "title", "a")
    assert lookup.bilateral_transforms == [], "Lookup.bilateral_transforms: read with getattr in keys.py"
    assert query.select_related == {"category": {}} and isinstance(query.max_depth, int)
    grouped = Post.objects.values("category").annotate(n=Count("id")).order_by("n").query
    assert "n" in grouped.annotations and isinstance(grouped.group_by, tuple)
    assert grouped.order_by == ("n",) and [col.target.attname for col in grouped.select] == ["category_id"]
    assert Post.objects.extra(tables=["testapp_extra"]).query.extra_tables == ("testapp_extra",)
    assert Post.objects.all().distinct("title").query.distinct_fields == ("title",)
    values = Post.objects.values_list("id", "title").query
    assert list(values.values_select) == ["id", "title"]
    assert not values.extra_select and not values.annotation_select


def test_query_state(posts):
    plain = Post.objects.all().query
    state = query_state(plain)
    assert state is plain.__dict__
    assert {"where", "alias_map", "model"} <= set(state)
    assert "order_by" in query_state(Post.objects.order_by("title").query)
    filtered = Post.objects.filter(title="p1").query
    assert query_state(filtered)["where"].children, "a filter() lives in the Query's own attributes"
    assert "__slots__" not in vars(Query), "Query keeps its state in slots: the fingerprints can't read it"


def test_given_output_field():
    assert given_output_field(Count("id")) is None, "an unresolved expression has no output field yet"
    given = Sum("rating", output_field=FloatField())
    assert isinstance(given_output_field(given), FloatField)
    resolved = Sum("rating").resolve_expression(Post.objects.all().query)
    assert given_output_field(resolved) is None
    resolved.output_field  # noqa: B018 - resolves it from the source column and keeps it
    assert isinstance(given_output_field(resolved), IntegerField)


# ------------------------------------------------------------------ managers and model instances


def test_queryset_class():
    class Own(QuerySet):
        pass

    assert queryset_class(Post._base_manager) is QuerySet
    assert queryset_class(Manager.from_queryset(Own)()) is Own


def test_instance_state(posts):
    post = Post.objects.select_related("category").get(title="p1")
    assert STATE in post.__dict__
    state = state_dict(post)
    assert state["db"] == "default" and state["adding"] is False
    assert FIELDS_CACHE in state and state[FIELDS_CACHE]["category"].title == "a"
    plain = Post.objects.get(title="p2")
    assert not state_dict(plain).get(FIELDS_CACHE)
    assert hasattr(ModelState, FIELDS_CACHE)
    assert FIELDS_CACHE in STATE_UNPICKLED
    # a compact row leaves these out of the state it stores, as pickling leaves out the peers
    # (Django 6.1's weak references to the rows fetched together; absent before)
    rows = list(Post.objects.order_by("pk"))
    copy = pickle.loads(pickle.dumps(rows))[0]
    for name in STATE_UNPICKLED:
        if name != FIELDS_CACHE:
            assert not hasattr(ModelState, name) or name not in state_dict(copy), f"ModelState pickles {name}"


def test_fetched_state(posts):
    """The state of a row a plain queryset fetched is fetched_state() with its database (of the
    values a plain fetch leaves; an empty fields_cache is made when first read)."""
    from django.db import models

    expected = {**fetched_state(), "db": "default"}
    assert expected["adding"] is False
    for post in [Post.objects.nocache().get(title="p1"), *Post.objects.nocache().order_by("pk")]:
        state = {k: v for k, v in state_dict(post).items() if k not in STATE_UNPICKLED}
        assert state == expected
    assert ("fetch_mode" in expected) == hasattr(models, "FETCH_PEERS")


def test_peers(posts):
    from django.db import models

    assert STATE_UNPICKLED == (FIELDS_CACHE, PEERS)
    if not hasattr(models, "FETCH_PEERS"):
        assert not hasattr(ModelState, PEERS), "ModelState has peers before fetch modes came (Django 6.1)"
        return
    assert hasattr(ModelState, PEERS)
    rows = list(Post.objects.fetch_mode(models.FETCH_PEERS).order_by("pk").nocache())
    peers = state_dict(rows[0]).get(PEERS)
    assert peers is not None and [ref() for ref in peers] == rows, "FETCH_PEERS rows keep weak references"
    copy = pickle.loads(pickle.dumps(rows[0]))
    assert PEERS not in state_dict(copy), "ModelState must not pickle its peers"


def test_prefetched_objects_cache(posts):
    category = Category.objects.prefetch_related("posts").get(title="a")
    assert PREFETCHED_OBJECTS_CACHE in category.__dict__


# ------------------------------------------------------------------ deletion: Collector, on_delete


def test_database_on_delete():
    from django.db import models

    assert (DATABASE_ON_DELETE is not None) == hasattr(models, "DB_CASCADE"), (
        "deletion.DatabaseOnDelete is gone or renamed: the rows DB_CASCADE deletes would stay cached"
    )
    for on_delete in (models.CASCADE, models.SET_NULL, models.PROTECT, models.DO_NOTHING):
        assert database_on_delete(on_delete) is None
    if hasattr(models, "DB_CASCADE"):
        assert database_on_delete(models.DB_CASCADE) == "CASCADE"
        assert database_on_delete(models.DB_SET_NULL) == "SET NULL"
        assert database_on_delete(models.DB_SET_DEFAULT) == "SET DEFAULT"


def test_collector(posts):
    a, _ = posts
    user = User.objects.create(username="u")
    Post.objects.filter(category=a).update(author=user)
    collector = Collector(using="default")
    collector.collect([user])
    assert collector_using(collector) == "default"
    data = collector_data(collector)
    assert User in data and user in data[User]
    assert isinstance(collector_fast_deletes(collector), list)
    updates = collector_field_updates(collector)
    fields = [field for field, _ in updates]
    assert Post._meta.get_field("author") in fields, "on_delete=SET_NULL is a field update"
    for (_, value), instances_list in updates.items():
        assert value is None
        for instances in instances_list:
            assert isinstance(instances, QuerySet) or all(isinstance(obj, Post) for obj in instances)
