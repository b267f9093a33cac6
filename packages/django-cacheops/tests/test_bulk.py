"""Mass writes invalidate with CACHEOPS_INVALIDATE_BULK, granularly where the rows are known;
prefetch_related queries are cached and invalidated like any other."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from cacheops import bulk
from tests.testapp.models import Brand, Category, Label, Post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


@pytest.fixture
def bulk_on(settings):
    settings.CACHEOPS_INVALIDATE_BULK = True


@pytest.fixture
def two_categories():
    a, b = Category.objects.create(title="a"), Category.objects.create(title="b")
    for i in range(3):
        Post.objects.create(title=f"a{i}", category=a, rating=i)
        Post.objects.create(title=f"b{i}", category=b, rating=i)
    return a, b


def runs_sql(queries, func) -> int:
    with queries() as q:
        func()
    return q.count


def test_update_is_not_invalidating_by_default(two_categories):
    a, _ = two_categories
    assert Post.objects.filter(category=a, rating=0).count() == 1
    Post.objects.filter(category=a).update(rating=0)
    assert Post.objects.filter(category=a, rating=0).count() == 1  # stale: the setting is off


@pytest.mark.usefixtures("bulk_on")
def test_update_invalidates_granularly(two_categories, queries):
    a, b = two_categories
    assert Post.objects.filter(category=a, rating=0).count() == 1
    assert Post.objects.filter(rating=7).count() == 0
    assert Post.objects.filter(category=b).count() == 3
    assert Post.objects.filter(category=a).update(rating=7) == 3
    assert Post.objects.filter(category=a, rating=0).count() == 0  # old values matched
    assert Post.objects.filter(rating=7).count() == 3  # new values matched
    # rows of the other category were not touched: their cached query survives
    assert runs_sql(queries, lambda: Post.objects.filter(category=b).count()) == 0


@pytest.mark.usefixtures("bulk_on")
def test_update_with_expressions_and_inside_transactions(two_categories):
    a, _ = two_categories
    assert Post.objects.filter(rating=3).count() == 0
    with transaction.atomic():
        Post.objects.filter(category=a).update(rating=F("rating") + 1)  # 1, 2, 3
        assert Post.objects.filter(rating=3).count() == 1  # dirty transaction: not cached
    assert Post.objects.filter(rating=3).count() == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        Post.objects.filter(category=a).update(rating=50)
        raise RuntimeError
    assert Post.objects.filter(rating=3).count() == 1


@pytest.mark.usefixtures("bulk_on")
def test_update_of_many_rows_invalidates_the_model(two_categories, monkeypatch):
    a, b = two_categories
    monkeypatch.setattr(bulk, "MAX_ROWS", 2)
    assert Post.objects.filter(category=b).count() == 3
    assert Post.objects.filter(category=a).update(title="x") == 3
    assert Post.objects.filter(title="x").count() == 3


@pytest.mark.usefixtures("bulk_on")
def test_bulk_update_and_bulk_create(two_categories, queries):
    a, b = two_categories
    posts = list(Post.objects.filter(category=a).order_by("rating"))
    assert Post.objects.filter(title="renamed").count() == 0
    assert Post.objects.filter(category=b).count() == 3
    for post in posts:
        post.title = "renamed"
    Post.objects.bulk_update(posts, ["title"])
    assert Post.objects.filter(title="renamed").count() == 3
    assert runs_sql(queries, lambda: Post.objects.filter(category=b).count()) == 0

    assert Category.objects.filter(title="new").exists() is False
    Category.objects.bulk_create([Category(title="new"), Category(title="newer")])
    assert Category.objects.filter(title="new").exists() is True


@pytest.mark.usefixtures("bulk_on")
def test_delete_and_set_null(two_categories):
    a, _ = two_categories
    user = User.objects.create(username="u")
    Post.objects.filter(category=a).update(author=user)
    assert Post.objects.filter(author=None).count() == 3
    assert Post.objects.filter(category=a, rating__in=[0, 1]).count() == 2
    Post.objects.filter(category=a, rating=0).delete()
    assert Post.objects.filter(category=a, rating__in=[0, 1]).count() == 1
    user.delete()  # on_delete=SET_NULL updates the posts through QuerySet.update()
    assert Post.objects.filter(author=None).count() == 5


def test_prefetch_related_is_cached_and_invalidated(two_categories, queries):
    a, b = two_categories

    def titles():
        return {
            c.title: sorted(p.title for p in c.posts.all())
            for c in Category.objects.prefetch_related("posts")
        }

    first = titles()
    assert first["a"] == ["a0", "a1", "a2"]
    assert runs_sql(queries, titles) == 0
    post = Post.objects.get(title="a1")
    post.title = "a1-renamed"
    post.save()
    assert titles()["a"] == ["a0", "a1-renamed", "a2"]
    assert runs_sql(queries, titles) == 0


def test_prefetch_m2m_is_cached_and_invalidated(queries):
    brand = Brand.objects.create(name="b")
    red, blue = Label.objects.create(text="red"), Label.objects.create(text="blue")
    brand.labels.add(red)

    def labels():
        return [
            sorted(label.text for label in b.labels.all()) for b in Brand.objects.prefetch_related("labels")
        ]

    assert labels() == [["red"]]
    assert runs_sql(queries, labels) == 0
    brand.labels.add(blue)
    assert labels() == [["blue", "red"]]
    red.text = "crimson"
    red.save()
    assert labels() == [["blue", "crimson"]]
    assert runs_sql(queries, labels) == 0


def test_prefetch_under_manual_cache_inherits_its_options(settings, queries):
    settings.CACHEOPS = {"testapp.*": {"ops": (), "timeout": 60}}
    cat = Category.objects.create(title="a")
    Post.objects.create(title="p1", category=cat)

    def titles(qs):
        return [sorted(p.title for p in c.posts.all()) for c in qs]

    assert titles(Category.objects.cache().prefetch_related("posts")) == [["p1"]]
    assert runs_sql(queries, lambda: titles(Category.objects.cache().prefetch_related("posts"))) == 0
    Post.objects.create(title="p2", category=cat)
    assert titles(Category.objects.cache().prefetch_related("posts")) == [["p1", "p2"]]
    # without .cache() nothing is cached, the prefetch query included
    assert runs_sql(queries, lambda: titles(Category.objects.prefetch_related("posts"))) == 2
    # the posts query alone is still not cached automatically
    assert runs_sql(queries, lambda: list(Post.objects.filter(category=cat))) == 1
    settings.CACHEOPS = {"testapp.*": {"ops": "all", "timeout": 60}}
    titles(Category.objects.prefetch_related("posts"))
    assert runs_sql(queries, lambda: titles(Category.objects.nocache().prefetch_related("posts"))) == 2
