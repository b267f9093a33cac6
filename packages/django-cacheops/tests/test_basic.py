from __future__ import annotations

import pytest
from django.db.models import Count, Sum

from tests.testapp.models import Category, Post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


@pytest.fixture
def cat() -> Category:
    return Category.objects.create(title="Django")


def test_fetch_cached_and_invalidated_on_save(cat, queries):
    Post.objects.create(title="a", category=cat)
    assert len(list(Post.objects.filter(category=cat))) == 1
    with queries() as q:
        assert [p.title for p in Post.objects.filter(category=cat)] == ["a"]
        assert len(Post.objects.filter(category=cat)) == 1
        assert bool(Post.objects.filter(category=cat))
    assert q.count == 0
    Post.objects.create(title="b", category=cat)
    with queries() as q:
        assert sorted(p.title for p in Post.objects.filter(category=cat)) == ["a", "b"]
    assert q.count == 1


def test_get_first_last_and_fk_access(cat, queries):
    post = Post.objects.create(title="a", category=cat)
    assert Post.objects.get(pk=post.pk).category.title == "Django"
    assert Post.objects.order_by("pk").first() == post
    assert Post.objects.order_by("pk").last() == post
    with queries() as q:
        fetched = Post.objects.get(pk=post.pk)
        assert fetched.category.title == "Django"
        assert Post.objects.order_by("pk").first() == post
        assert Post.objects.order_by("pk").last() == post
    assert q.count == 0
    cat.title = "Flask"
    cat.save()
    with queries() as q:
        assert Post.objects.get(pk=post.pk).category.title == "Flask"
    assert q.count == 1


def test_get_raises_does_not_exist_from_cache(cat, queries):
    with pytest.raises(Post.DoesNotExist):
        Post.objects.get(title="nope")
    with queries() as q, pytest.raises(Post.DoesNotExist):
        Post.objects.get(title="nope")
    assert q.count == 0
    Post.objects.create(title="nope", category=cat)
    assert Post.objects.get(title="nope").title == "nope"


def test_count_exists_aggregate(cat, queries):
    Post.objects.create(title="a", category=cat, rating=3)
    qs = Post.objects.filter(category=cat)
    assert qs.count() == 1 and qs.exists() and qs.aggregate(s=Sum("rating")) == {"s": 3}
    with queries() as q:
        assert qs.count() == 1 and qs.exists() and qs.aggregate(s=Sum("rating")) == {"s": 3}
    assert q.count == 0
    Post.objects.create(title="b", category=cat, rating=4)
    assert qs.count() == 2 and qs.aggregate(s=Sum("rating")) == {"s": 7}


def test_group_by_values_and_values_list(cat, queries):
    Post.objects.create(title="a", category=cat)
    Post.objects.create(title="b", category=cat)
    grouped = list(Post.objects.values("category_id").annotate(n=Count("id")))
    titles = list(Post.objects.order_by("title").values_list("title", flat=True))
    with queries() as q:
        assert list(Post.objects.values("category_id").annotate(n=Count("id"))) == grouped
        assert list(Post.objects.order_by("title").values_list("title", flat=True)) == titles == ["a", "b"]
        assert list(Post.objects.order_by("title").values_list("title")) != titles  # different key
    assert q.count == 1


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


def test_old_values_invalidate_too(cat):
    other = Category.objects.create(title="other")
    post = Post.objects.create(title="a", category=cat)
    assert [p.title for p in Post.objects.filter(category=cat)] == ["a"]
    post.category = other
    post.save()
    # the cached query of the old category must go, though the new values don't match it
    assert list(Post.objects.filter(category=cat)) == []


def test_delete_invalidates(cat):
    post = Post.objects.create(title="a", category=cat)
    assert Post.objects.filter(category=cat).count() == 1
    post.delete()
    assert Post.objects.filter(category=cat).count() == 0


def test_empty_in_and_none_values(cat, queries):
    assert list(Post.objects.filter(pk__in=[])) == []
    assert Post.objects.filter(pk__in=[]).count() == 0
    assert list(Post.objects.filter(title__in=["a", None])) == []
    Post.objects.create(title="a", category=cat)
    assert len(Post.objects.filter(title__in=["a", None])) == 1
