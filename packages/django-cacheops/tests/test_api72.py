"""The API of django-cacheops 7.2 that users call, as 7.2 has it (issue 14)."""

from __future__ import annotations

import importlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from cacheops import CacheMiss, RedisCache, cache, cached, cached_as, file_cache
from cacheops.signals import cache_read
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)

# Every name `from cacheops import *` gave in django-cacheops 7.2 (its __init__ star-imports
# simple, query, invalidation, reaper and templatetags.cacheops), listed by importing 7.2.
NAMES_72 = [
    "CacheMiss",
    "CacheopsLibrary",
    "DEFAULT_DB_ALIAS",
    "FileCache",
    "RedisCache",
    "VERSION",
    "__version__",
    "cache",
    "cached",
    "cached_as",
    "cached_view",
    "cached_view_as",
    "file_cache",
    "get_prefix",
    "install_cacheops",
    "invalidate_all",
    "invalidate_fragment",
    "invalidate_model",
    "invalidate_obj",
    "logger",
    "logging",
    "no_invalidation",
    "reap_conjs",
    "redis_client",
]


@pytest.mark.parametrize("name", NAMES_72)
def test_every_name_of_72_is_importable_from_cacheops(name):
    module = importlib.import_module("cacheops")
    exec(f"from cacheops import {name}", {})  # the statement users write
    assert getattr(module, name) is not None


def test_the_names_are_what_72_gave():
    import cacheops
    from cacheops.file_cache import FileCache
    from cacheops.management.commands.reapconjs import reap_conjs
    from cacheops.simple import RedisCache
    from cacheops.templatetags.cacheops import CacheopsLibrary, invalidate_fragment

    assert cacheops.invalidate_fragment is invalidate_fragment
    assert cacheops.CacheopsLibrary is CacheopsLibrary
    assert cacheops.reap_conjs is reap_conjs
    assert cacheops.RedisCache is RedisCache and isinstance(cacheops.cache, RedisCache)
    assert cacheops.FileCache is FileCache
    assert cacheops.redis_client.ping()


def _prefix_a(query):
    return "tenant-a:"


def _prefix_b(query):
    return "tenant-b:"


def test_the_plain_cache_keeps_prefixes_apart(settings):
    settings.CACHEOPS_PREFIX = _prefix_a
    cache.set("key", "a's value")
    assert cache.get("key") == "a's value"
    calls = []

    @cached(timeout=60)
    def tenant_name(x):
        calls.append(x)
        return f"{settings.CACHEOPS_PREFIX.__name__}:{x}"

    assert tenant_name(1) == "_prefix_a:1"
    settings.CACHEOPS_PREFIX = _prefix_b
    with pytest.raises(CacheMiss):
        cache.get("key")
    assert tenant_name(1) == "_prefix_b:1"  # computed again, not tenant a's result
    assert calls == [1, 1]
    assert tenant_name.key(1).startswith("tenant-b:")
    settings.CACHEOPS_PREFIX = _prefix_a
    assert cache.get("key") == "a's value"
    assert tenant_name(1) == "_prefix_a:1" and calls == [1, 1]


def test_redis_cache_on_a_connection_of_its_own(redis_server):
    # 7.2: RedisCache(conn); cacheops' own cache is RedisCache(redis_client)
    conn = redis_server.client(db=9)
    try:
        other = RedisCache(conn)
        assert other.conn is conn
        other.set("key", [1, 2], timeout=60)
        assert other.get("key") == [1, 2]
        assert conn.exists("key") == 1
        with pytest.raises(CacheMiss):
            cache.get("key")  # cacheops' database doesn't have it

        @other.cached(timeout=60)
        def double(x):
            return x * 2

        assert double(2) == 4 and double.key(2).get() == 4
        other.delete("key")
        with pytest.raises(CacheMiss):
            other.get("key")
    finally:
        conn.flushdb()
        conn.close()


def test_the_file_cache_keeps_prefixes_apart(settings, tmp_path):
    # 7.2's file cache keys go through CACHEOPS_PREFIX as the Redis cache's do
    settings.FILE_CACHE_DIR = str(tmp_path)
    settings.CACHEOPS_PREFIX = _prefix_a
    file_cache.set("key", "a's value")
    calls = []

    @file_cache.cached(timeout=60)
    def tenant_name(x):
        calls.append(x)
        return f"{settings.CACHEOPS_PREFIX.__name__}:{x}"

    assert tenant_name(1) == "_prefix_a:1"
    assert tenant_name.key(1).get() == "_prefix_a:1"
    settings.CACHEOPS_PREFIX = _prefix_b
    with pytest.raises(CacheMiss):
        file_cache.get("key")
    assert tenant_name(1) == "_prefix_b:1" and calls == [1, 1]
    tenant_name.invalidate(1)
    settings.CACHEOPS_PREFIX = _prefix_a
    assert file_cache.get("key") == "a's value"
    assert tenant_name(1) == "_prefix_a:1" and calls == [1, 1]
    file_cache.delete("key")
    with pytest.raises(CacheMiss):
        file_cache.get("key")


def test_the_prefix_callable_may_return_none(settings):
    settings.CACHEOPS_PREFIX = lambda query: None
    cache.set("key", 1)
    assert cache.get("key") == 1
    assert Category.objects.cache().count() == 0


def test_a_function_key_gets_sets_and_deletes():
    calls = []

    @cached(timeout=100)
    def inc(x):
        calls.append(x)
        return len(calls)

    key = inc.key(2)
    assert isinstance(key, str)
    with pytest.raises(CacheMiss):
        key.get()
    assert inc(2) == 1
    assert inc.key(2).get() == 1
    inc.key(2).delete()
    assert inc(2) == 2
    inc.key(2).set(42)
    assert inc(2) == 42
    assert calls == [2, 2]


def test_a_file_cache_function_key_too(tmp_path, settings):
    settings.FILE_CACHE_DIR = str(tmp_path)

    @file_cache.cached(timeout=100)
    def double(x):
        return x * 2

    assert double(3) == 6
    assert double.key(3).get() == 6
    double.key(3).set(7)
    assert double(3) == 7
    double.key(3).delete()
    assert double(3) == 6


def test_extra_may_be_a_function_of_the_arguments():
    seen = []

    def version(x):
        seen.append(x)
        return "v1"

    def f(x):
        return x

    by_function = cached(timeout=60, extra=version)(f)
    by_value = cached(timeout=60, extra="v1")(f)
    assert by_function(1) == 1 and seen == [1]
    assert by_function.key(1) == by_value.key(1)  # the value extra returns makes the key
    assert by_function.key(1) != by_function.key(2)


def test_cached_as_of_a_list_caches_nothing():
    calls = []

    @cached_as([])  # what Paginator hands out for an empty page
    def f():
        calls.append(1)
        return len(calls)

    assert f() == 1 and f() == 2


def test_queryset_clone():
    qs = Category.objects.filter(title="a").cache(ops=["fetch"], timeout=10)
    copy = qs.clone()
    assert copy is not qs
    assert copy._cacheops_ops == qs._cacheops_ops and copy._cacheops_timeout == 10
    assert str(copy.query) == str(qs.query)
    inplace = Category.objects.all().inplace()
    assert inplace.filter(title="a") is inplace
    assert inplace.clone() is not inplace
    assert inplace.cloning().filter(title="b") is not inplace
    assert inplace.cloning(0).filter(title="c") is inplace  # cloning(0) is inplace()
    manager_qs = Category.objects.inplace()
    assert manager_qs.filter(title="a") is manager_qs


def test_cache_read_is_sent_for_an_empty_pk_in(queries):
    seen = []

    def receiver(sender, func, hit, **kwargs):
        seen.append({"sender": sender, "func": func, "hit": hit})

    cache_read.connect(receiver, weak=False, dispatch_uid="test_api72")
    try:
        with queries() as q:
            assert list(Category.objects.cache().filter(pk__in=[])) == []
        assert q.count == 0
    finally:
        cache_read.disconnect(dispatch_uid="test_api72")
    assert seen == [{"sender": Category, "func": None, "hit": False}]


def test_the_prefix_query_asks_for_one_table_or_database(settings):
    settings.CACHEOPS_PREFIX = lambda query: query.table
    assert Category.objects.cache().count() == 0
    with pytest.raises(ImproperlyConfigured, match="single table"):
        list(Post.objects.filter(category__title="x").cache())


def test_function_keys_tell_rows_apart_by_primary_key():
    first = Category.objects.create(title="same")
    second = Category.objects.create(title="same")  # the same str() and repr()

    @cached(timeout=60)
    def pk_of(category):
        return category.pk

    assert pk_of(first) == first.pk
    assert pk_of(second) == second.pk
    assert pk_of.key(first) != pk_of.key(second)
    assert pk_of.key(first) == pk_of.key(Category.objects.get(pk=first.pk))
