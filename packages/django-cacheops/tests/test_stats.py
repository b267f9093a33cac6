from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command

import cacheops
from cacheops import cached, cached_as, invalidate_model
from cacheops.counters import install_stats, reset_stats, stats
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def counting(settings):
    settings.CACHEOPS_STATS = True
    install_stats()  # what the app's ready() does
    reset_stats()
    yield
    reset_stats()


@pytest.fixture
def cat():
    return Category.objects.create(title="c")


def test_hits_misses_and_invalidations_per_model(cat):
    list(Post.objects.filter(category=cat))
    list(Post.objects.filter(category=cat))
    list(Post.objects.filter(category=cat))
    Category.objects.get(pk=cat.pk)
    Post.objects.create(title="a", category=cat)
    post = stats("testapp.post")["testapp.post"]
    assert post == {"hits": 2, "misses": 1, "invalidations": 1}
    category = stats(Category)["testapp.category"]
    assert category["misses"] >= 1
    assert category["hits"] == 0
    everything = stats()
    assert everything["testapp.post"] == post


def test_functions_and_whole_model_invalidation(cat):
    @cached(timeout=60)
    def answer():
        return 42

    @cached_as(Post)
    def count_posts():
        return Post.objects.count()

    answer()
    answer()
    count_posts()
    invalidate_model(Post)
    data = stats()
    name = f"func:{__name__}.test_functions_and_whole_model_invalidation.<locals>"
    assert data[f"{name}.answer"] == {"hits": 1, "misses": 1, "invalidations": 0}
    assert data[f"{name}.count_posts"]["misses"] == 1
    assert data["testapp.post"]["invalidations"] == 1


def test_counts_from_several_threads_add_up(cat):
    list(Post.objects.filter(category=cat))

    def read():
        for _ in range(50):
            list(Post.objects.filter(category=cat))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats(Post)["testapp.post"]["hits"] == 200


def test_counts_are_shared_through_redis(cat, redis_client):
    """Another process's counts (already flushed to Redis) are included."""
    list(Post.objects.filter(category=cat))
    redis_client.hincrby("cacheops:stats", "testapp.post|hits", 10)
    assert stats(Post)["testapp.post"] == {"hits": 10, "misses": 1, "invalidations": 0}


def test_off_when_setting_false(settings, cat):
    settings.CACHEOPS_STATS = False
    reset_stats()
    list(Post.objects.filter(category=cat))
    list(Post.objects.filter(category=cat))
    assert stats() == {}


def test_package_attribute_is_the_function(cat):
    list(Post.objects.filter(category=cat))
    assert cacheops.stats is stats
    assert cacheops.stats(Post) == stats(Post)


def test_command(cat):
    list(Post.objects.filter(category=cat))
    list(Post.objects.filter(category=cat))
    out = StringIO()
    call_command("cacheops_stats", stdout=out)
    line = next(x for x in out.getvalue().splitlines() if x.startswith("testapp.post "))
    assert line.split() == ["testapp.post", "1", "1", "50.0", "0"]
    out = StringIO()
    call_command("cacheops_stats", "--reset", stdout=out)
    assert stats() == {}
    out, err = StringIO(), StringIO()
    call_command("cacheops_stats", "testapp.post", stdout=out, stderr=err)
    assert out.getvalue().splitlines()[1].split() == ["testapp.post", "0", "0", "-", "0"]
    assert err.getvalue() == ""


def test_turned_on_and_off_by_the_setting_alone(settings, cat):
    settings.CACHEOPS_STATS = False
    reset_stats()
    list(Post.objects.filter(category=cat))
    settings.CACHEOPS_STATS = True  # no install_stats() call: the setting is enough
    list(Post.objects.filter(category=cat))
    list(Post.objects.filter(category=cat))
    assert stats(Post)["testapp.post"] == {"hits": 2, "misses": 0, "invalidations": 0}


def test_own_receivers_hear_reads_while_stats_are_off(settings, cat):
    from cacheops.signals import cache_read

    settings.CACHEOPS_STATS = False
    heard = []

    def receiver(sender, func, hit, **kwargs):
        heard.append((sender, hit))

    cache_read.connect(receiver)
    try:
        list(Post.objects.filter(category=cat))
        list(Post.objects.filter(category=cat))
    finally:
        cache_read.disconnect(receiver)
    assert heard == [(Post, False), (Post, True)]
