from __future__ import annotations

import pytest

from cacheops import cached_as, invalidate_all, invalidate_model, invalidate_obj
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cat() -> Category:
    return Category.objects.create(title="Django")


def test_fetch_cached_and_invalidated_on_save(cat, queries):
    Post.objects.create(title="a", category=cat)
    assert len(list(Post.objects.filter(category=cat))) == 1
    with queries() as q:
        assert [p.title for p in Post.objects.filter(category=cat)] == ["a"]
    assert q.count == 0
    Post.objects.create(title="b", category=cat)
    with queries() as q:
        assert sorted(p.title for p in Post.objects.filter(category=cat)) == ["a", "b"]
    assert q.count == 1


def test_get_and_fk_access(cat, queries):
    post = Post.objects.create(title="a", category=cat)
    Post.objects.get(pk=post.pk).category  # warm both
    with queries() as q:
        fetched = Post.objects.get(pk=post.pk)
        assert fetched.category.title == "Django"
    assert q.count == 0
    cat.title = "Flask"
    cat.save()
    with queries() as q:
        assert Post.objects.get(pk=post.pk).category.title == "Flask"
    assert q.count == 1


def test_count_exists_aggregate(cat, queries):
    from django.db.models import Sum

    Post.objects.create(title="a", category=cat, rating=3)
    qs = Post.objects.filter(category=cat)
    assert qs.count() == 1 and qs.exists() and qs.aggregate(s=Sum("rating")) == {"s": 3}
    with queries() as q:
        assert qs.count() == 1 and qs.exists() and qs.aggregate(s=Sum("rating")) == {"s": 3}
    assert q.count == 0
    Post.objects.create(title="b", category=cat, rating=4)
    assert qs.count() == 2 and qs.aggregate(s=Sum("rating")) == {"s": 7}


def test_granular(cat, queries):
    other = Category.objects.create(title="other")
    Post.objects.create(title="a", category=cat)
    list(Post.objects.filter(category=other))
    list(Post.objects.filter(category=cat))
    Post.objects.create(title="b", category=cat)
    with queries() as q:
        list(Post.objects.filter(category=other))
    assert q.count == 0
    with queries() as q:
        list(Post.objects.filter(category=cat))
    assert q.count == 1


def test_cached_as_and_invalidate(cat, queries):
    calls = []

    @cached_as(Post.objects.filter(category=cat))
    def titles():
        calls.append(1)
        return sorted(Post.objects.filter(category=cat).nocache().values_list("title", flat=True))

    assert titles() == [] and titles() == [] and len(calls) == 1
    Post.objects.create(title="x", category=cat)
    assert titles() == ["x"] and len(calls) == 2
    invalidate_model(Post)
    assert titles() == ["x"] and len(calls) == 3
    invalidate_obj(Post.objects.get(title="x"))
    assert titles() == ["x"] and len(calls) == 4
    invalidate_all()
    assert titles() == ["x"] and len(calls) == 5
