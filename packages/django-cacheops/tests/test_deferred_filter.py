"""A plain filter() on a cached queryset, once Django has built it without an error, waits until
something reads the query: a repeated ``filter(...).count()``, ``.exists()`` or fetch reads the
cache through the key remembered for it without building the filter.  Everything a user can see
must stay as it is without the shortcut: results, errors and invalidation."""

from __future__ import annotations

import asyncio
import pickle

import pytest
from django.core.exceptions import FieldError
from django.db import transaction
from django.db.models.sql.query import Query

from tests.testapp.models import Category, Post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


@pytest.fixture
def builds(monkeypatch):
    """The filters Django builds (calls of Query.add_q), the real method still doing the work."""
    built = []
    original = Query.add_q

    def counting(self, q_object, *args, **kwargs):
        built.append(q_object)
        return original(self, q_object, *args, **kwargs)

    monkeypatch.setattr(Query, "add_q", counting)
    return built


def thrice(func):
    """The first call builds the filter, the second remembers its key, the third uses it."""
    results = [func() for _ in range(3)]
    assert results[0] == results[1] == results[2]
    return results[2]


def test_a_repeated_plain_filter_is_not_built(posts, builds, queries):
    a, _ = posts
    thrice(lambda: Post.objects.filter(rating=1).count())
    thrice(lambda: Post.objects.filter(rating=1).exists())
    thrice(lambda: sorted(p.title for p in Post.objects.filter(category=a)))
    builds.clear()
    with queries() as q:
        assert Post.objects.filter(rating=1).count() == 2
        assert Post.objects.filter(rating=1).exists() is True
        assert sorted(p.title for p in Post.objects.filter(category=a)) == ["p1", "p2"]
    assert q.count == 0
    assert builds == []


def test_look_alike_filters_keep_their_own_results(posts):
    a, b = posts
    assert thrice(lambda: Post.objects.filter(rating=1).count()) == 2
    assert thrice(lambda: Post.objects.filter(rating=2).count()) == 1
    assert thrice(lambda: Post.objects.exclude(rating=1).count()) == 1
    assert thrice(lambda: Post.objects.filter(visible=True).count()) == 2
    assert thrice(lambda: Post.objects.filter(rating=True).count()) == 2  # True is 1 to an IntegerField
    assert thrice(lambda: Post.objects.filter(category=a).count()) == 2
    assert thrice(lambda: Post.objects.filter(category=b).count()) == 1
    assert thrice(lambda: Post.objects.filter(category=b.pk).count()) == 1
    assert thrice(lambda: Post.objects.filter(category__exact=a).count()) == 2
    assert thrice(lambda: Post.objects.filter(category=a, rating=1).count()) == 1
    assert thrice(lambda: Post.objects.filter(title="p1").exists()) is True
    assert thrice(lambda: Post.objects.filter(title="p9").exists()) is False
    titles = lambda qs: sorted(qs.values_list("title", flat=True))  # noqa: E731
    assert thrice(lambda: titles(Post.objects.filter(rating=1))) == ["p1", "p3"]
    assert thrice(lambda: sorted(Post.objects.values_list("title", flat=True).filter(rating=2))) == ["p2"]


def test_chaining_after_a_deferred_filter_builds_it(posts):
    a, _ = posts
    thrice(lambda: Post.objects.filter(rating=1).count())
    qs = Post.objects.filter(rating=1)
    assert "WHERE" in str(qs.query)
    assert [p.title for p in Post.objects.filter(rating=1).order_by("-title")] == ["p3", "p1"]
    assert Post.objects.filter(rating=1).filter(category=a).count() == 1
    assert Post.objects.filter(rating=1).exclude(title="p1").count() == 1
    ordered = Post.objects.filter(rating=1).order_by("title")
    assert list(ordered.values_list("title", flat=True)) == ["p1", "p3"]
    assert Post.objects.filter(rating=1).get(category=a).title == "p1"
    assert Post.objects.filter(rating=1)[:1].count() == 1
    assert Post.objects.filter(rating=1).nocache().count() == 2


def test_errors_still_come_from_filter(posts):
    a, _ = posts
    thrice(lambda: Post.objects.filter(rating="1").count())
    with pytest.raises(ValueError, match="rating"):
        Post.objects.filter(rating="one")  # same keyword and value type, a value Django refuses
    with pytest.raises(FieldError):
        Post.objects.filter(ratin=1)
    unsaved = Category(title="unsaved")
    with pytest.raises(ValueError):
        Post.objects.filter(category=unsaved).count()
    thrice(lambda: Post.objects.filter(category=a).count())
    with pytest.raises(ValueError):  # a Post is not a Category
        Post.objects.filter(category=Post.objects.first())
    with pytest.raises(TypeError, match="slice"):
        Post.objects.order_by("pk")[:1].filter(rating=1)


def test_writes_invalidate_through_the_remembered_key(posts):
    a, b = posts
    assert thrice(lambda: Post.objects.filter(rating=1).count()) == 2
    assert thrice(lambda: sorted(p.title for p in Post.objects.filter(category=b))) == ["p3"]
    post = Post.objects.get(title="p2")
    post.rating = 1
    post.category = b
    post.save()
    assert Post.objects.filter(rating=1).count() == 3
    assert sorted(p.title for p in Post.objects.filter(category=b)) == ["p2", "p3"]
    Post.objects.get(title="p1").delete()
    assert Post.objects.filter(rating=1).count() == 2


def test_a_dirty_transaction_reads_the_database(posts):
    thrice(lambda: Post.objects.filter(rating=1).count())
    with transaction.atomic():
        Post.objects.create(title="p4", category=posts[0], rating=1)
        assert Post.objects.filter(rating=1).count() == 3
    assert Post.objects.filter(rating=1).count() == 3


@pytest.mark.django_db(transaction=True, databases=["default", "slave"])
def test_instances_and_databases(posts, queries):
    a, _ = posts
    thrice(lambda: list(Post.objects.filter(category=a)))
    rows = list(Post.objects.filter(category=a))
    assert {p._state.db for p in rows} == {"default"}
    assert all(p.category_id == a.pk for p in rows)
    rows[0].title = "changed in memory"
    assert "changed in memory" not in {p.title for p in Post.objects.filter(category=a)}
    with queries("slave") as q:
        assert Post.objects.using("slave").filter(category=a.pk).count() == 0  # its own database
    assert q.count == 1


def test_related_managers_and_not_cached_querysets_are_left_alone(posts, builds):
    a, _ = posts
    thrice(lambda: a.posts.filter(rating=1).count())
    thrice(lambda: Post.objects.nocache().filter(rating=1).count())
    builds.clear()
    assert a.posts.filter(rating=1).count() == 1
    assert Post.objects.nocache().filter(rating=1).count() == 2
    assert sum("rating" in str(q) for q in builds) == 2  # the related manager adds its own filter


def test_a_pickled_queryset_with_a_deferred_filter(posts):
    thrice(lambda: Post.objects.filter(rating=1).count())
    qs = Post.objects.filter(rating=1)
    restored = pickle.loads(pickle.dumps(qs))
    assert sorted(p.title for p in restored) == ["p1", "p3"]
    assert restored.filter(title="p1").count() == 1


def test_async_reads_use_the_remembered_key(posts, builds):
    thrice(lambda: Post.objects.filter(rating=1).count())
    thrice(lambda: Post.objects.filter(rating=2).exists())
    builds.clear()

    async def read():
        from cacheops.aio import aclose

        try:
            return (
                await Post.objects.filter(rating=1).acount(),
                await Post.objects.filter(rating=2).aexists(),
            )
        finally:
            await aclose()

    assert asyncio.run(read()) == (2, True)
    assert builds == []
