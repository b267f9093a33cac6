"""Insideout mode specifics (the behaviour tests run in this mode too, through the mode fixture)."""

from __future__ import annotations

import pytest

from cacheops.redis import redis_client
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def insideout(settings):
    settings.CACHEOPS_INSIDEOUT = True


def test_evicted_stamp_is_a_miss(queries):
    """Under volatile-* eviction a stamp may vanish: entries that saw it must not be served."""
    cat = Category.objects.create(title="c")
    Post.objects.create(title="a", category=cat)
    titles = lambda: [p.title for p in Post.objects.filter(category=cat)]  # noqa: E731
    titles()
    with queries() as q:
        titles()
    assert q.count == 0
    stamps = redis_client.keys("*conj:testapp_post:*")
    assert stamps and all(redis_client.ttl(k) > 0 for k in stamps)
    Post.objects.filter(category=cat).update(title="b")  # no invalidation...
    redis_client.delete(*stamps)  # ...but the stamps were evicted
    assert titles() == ["b"]


def test_every_cache_key_expires():
    cat = Category.objects.create(title="c")
    list(Post.objects.filter(category=cat))
    Post.objects.filter(category=cat).count()
    for key in redis_client.keys("*"):
        name = key.decode()
        if ":schemes:" in f":{name}" or ":epoch:" in f":{name}" or name == "cacheops:generation":
            continue  # tiny bookkeeping keys without TTL (never evicted under volatile-*)
        assert redis_client.ttl(key) > 0, name
