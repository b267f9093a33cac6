"""Remembered query plans: a repeated query is compiled once, and look-alike queries never share
an entry.  Each test reads every query twice, so the second read goes through the remembered plan
of a freshly built (never compiled) queryset."""

from __future__ import annotations

import datetime
import decimal

import pytest
from django.db.models import Avg, Count, Max, Sum
from django.db.models.sql.compiler import SQLCompiler

from cacheops.keys import query_fingerprint
from tests.testapp.models import Category, Post, Weird

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


def twice(func):
    first = func()
    second = func()
    assert first == second
    return second


def test_look_alike_queries_keep_their_own_results(posts):
    a, b = posts
    assert twice(lambda: Post.objects.filter(rating=1).count()) == 2
    assert twice(lambda: Post.objects.exclude(rating=1).count()) == 1
    assert twice(lambda: Post.objects.filter(rating__gt=1).count()) == 1
    assert twice(lambda: Post.objects.filter(rating__in=[1, 2]).count()) == 3
    assert twice(lambda: Post.objects.filter(visible=True).count()) == 2
    assert twice(lambda: Post.objects.filter(visible=False).count()) == 1
    assert twice(lambda: Post.objects.filter(category=a, rating=1).count()) == 1
    assert twice(lambda: Post.objects.filter(category=b).count()) == 1
    assert twice(lambda: [p.title for p in Post.objects.order_by("rating", "title")]) == ["p1", "p3", "p2"]
    assert twice(lambda: [p.title for p in Post.objects.order_by("-rating", "title")]) == ["p2", "p1", "p3"]
    assert twice(lambda: list(Post.objects.order_by("pk").values_list("title", flat=True))) == [
        "p1",
        "p2",
        "p3",
    ]
    assert twice(lambda: list(Post.objects.order_by("pk").values_list("rating", flat=True))) == [1, 2, 1]
    assert twice(lambda: [p.title for p in Post.objects.order_by("pk")[1:]]) == ["p2", "p3"]
    assert twice(lambda: [p.title for p in Post.objects.order_by("pk")[:1]]) == ["p1"]


def test_aggregates_with_the_same_shape(posts):
    by = lambda agg: dict(  # noqa: E731
        Post.objects.order_by("category_id").values_list("category_id").annotate(n=agg)
    )
    a, b = posts
    assert twice(lambda: by(Count("id"))) == {a.pk: 2, b.pk: 1}
    assert twice(lambda: by(Sum("rating"))) == {a.pk: 3, b.pk: 1}
    assert twice(lambda: by(Max("rating"))) == {a.pk: 2, b.pk: 1}
    average = twice(lambda: Post.objects.aggregate(n=Avg("rating")))["n"]
    assert float(average) == pytest.approx(4 / 3, rel=1e-3)  # a Decimal on MariaDB
    assert twice(lambda: Post.objects.aggregate(n=Sum("rating"))) == {"n": 4}


def test_values_of_different_types_are_different_queries():
    Weird.objects.create(decimal_field=decimal.Decimal("1.50"), date_field=datetime.date(2024, 1, 2))
    assert twice(lambda: Weird.objects.filter(decimal_field=decimal.Decimal("1.5")).count()) == 1
    assert twice(lambda: Weird.objects.filter(decimal_field=1).count()) == 0
    assert twice(lambda: Weird.objects.filter(date_field=datetime.date(2024, 1, 2)).count()) == 1
    assert twice(lambda: Weird.objects.filter(date_field=datetime.date(2024, 1, 3)).count()) == 0


def test_join_added_while_compiling_still_invalidates(posts):
    # ordering by a related field joins the category table only when the SQL is compiled: the
    # remembered plan must still know that category rows matter
    a, b = posts
    titles = lambda: [p.title for p in Post.objects.order_by("category__title", "title")]  # noqa: E731
    assert twice(titles) == ["p1", "p2", "p3"]
    b.title = "0"
    b.save()
    assert twice(titles) == ["p3", "p1", "p2"]


def test_unfiltered_query_invalidates_after_its_plan_is_remembered(posts):
    assert twice(lambda: Category.objects.count()) == 2
    Category.objects.create(title="c")
    assert twice(lambda: Category.objects.count()) == 3
    assert twice(lambda: [c.title for c in Category.objects.order_by("title")]) == ["a", "b", "c"]
    Category.objects.create(title="d")
    assert twice(lambda: [c.title for c in Category.objects.order_by("title")]) == ["a", "b", "c", "d"]


def test_a_repeated_hit_is_not_compiled_again(posts, monkeypatch):
    post = Post.objects.first()
    Post.objects.get(pk=post.pk)  # cached
    compiled = []
    original = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    for _ in range(3):
        assert Post.objects.get(pk=post.pk).title == post.title
    assert compiled == []


def test_fingerprints():
    same = [Post.objects.filter(rating=1, title="x").query, Post.objects.filter(rating=1, title="x").query]
    assert query_fingerprint(same[0]) == query_fingerprint(same[1]) is not None
    others = [
        Post.objects.filter(rating=2, title="x"),
        Post.objects.filter(rating=1, title="y"),
        Post.objects.filter(rating=1).exclude(title="x"),
        Post.objects.filter(rating=1, title="x").order_by("title"),
        Post.objects.filter(rating=1, title="x").distinct(),
        Post.objects.filter(rating=1, title="x")[:3],
        Post.objects.filter(rating=1, title="x").select_related("category"),
        Post.objects.filter(rating=1, title="x").only("title"),
    ]
    prints = [query_fingerprint(qs.query) for qs in others]
    assert all(p is not None for p in prints)
    assert len({query_fingerprint(same[0]), *prints}) == len(others) + 1
    # parts without a reliable picture are compiled every time instead
    from django.db.models import F, Value

    assert query_fingerprint(Post.objects.filter(rating=F("id") + 1).query) is None
    assert query_fingerprint(Post.objects.annotate(v=Value(1)).query) is None
    assert query_fingerprint(Post.objects.filter(category__in=Category.objects.all()).query) is None


def test_repeated_get_keeps_what_get_does(queries, posts):
    from django.db import transaction

    a, b = posts
    post = Post.objects.get(title="p1")
    for _ in range(2):
        with pytest.raises(Post.DoesNotExist, match="Post matching query does not exist"):
            Post.objects.get(title="nope")
        with pytest.raises(Post.MultipleObjectsReturned, match="it returned 2"):
            Post.objects.get(rating=1)
        assert Post.objects.values("title").get(pk=post.pk) == {"title": "p1"}
        assert Post.objects.get(pk=post.pk)._state.db == "default"
    with queries() as q:
        with pytest.raises(Post.DoesNotExist):
            Post.objects.get(title="nope")
        with pytest.raises(Post.MultipleObjectsReturned):
            Post.objects.get(rating=1)
        assert Post.objects.get(pk=post.pk).title == "p1"
    assert q.count == 0
    post.title = "renamed"
    post.save()
    assert Post.objects.get(pk=post.pk).title == "renamed"
    with transaction.atomic():
        Post.objects.filter(pk=post.pk).update(title="in transaction")
        assert Post.objects.get(pk=post.pk).title == "in transaction"  # a dirty transaction reads the db
    Post.objects.create(title="nope", category=a)
    assert Post.objects.get(title="nope").category_id == a.pk
