from __future__ import annotations

import pytest
import redis
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from cacheops.conf import model_profile, prepare_profiles
from cacheops.conf import settings as cacheops_settings
from cacheops.redis import get_client
from tests.testapp.models import Category, Post


def test_override_settings_is_seen(settings):
    assert cacheops_settings.CACHEOPS_LONG_DISJUNCTION == 8
    settings.CACHEOPS_LONG_DISJUNCTION = 3
    assert cacheops_settings.CACHEOPS_LONG_DISJUNCTION == 3
    settings.CACHEOPS = {"*.*": ("get", 900)}
    assert model_profile(Post)["ops"] == {"get"} and model_profile(Post)["timeout"] == 900


def test_profiles_case_insensitive_and_wildcards(settings):
    settings.CACHEOPS = {
        "TestApp.Post": {"ops": "all", "timeout": 10},
        "testapp.*": {"ops": ["count"], "timeout": 20},
        "*.*": {"timeout": 30},
    }
    assert model_profile(Post)["timeout"] == 10 and model_profile(Post)["ops"] == {
        "get",
        "fetch",
        "count",
        "aggregate",
        "exists",
    }
    assert model_profile(Category)["ops"] == {"count"}
    from django.contrib.auth.models import User

    assert model_profile(User)["timeout"] == 30 and model_profile(User)["ops"] == frozenset()


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"testapp.post": {"ops": "all"}}, "timeout"),
        ({"testapp.post": {"ops": ["fech"], "timeout": 1}}, "unknown ops"),
        ({"testapp.post": {"timeout": 1, "colour": 1}}, "unknown options"),
        ({"post": {"timeout": 1}}, "app.model"),
        ({"testapp.post": ("get",)}, "tuple form"),
        ({"testapp.post": {"timeout": -1}}, "positive"),
        ([("testapp.post", 1)], "CACHEOPS must be a dict"),
    ],
)
def test_bad_profiles_name_the_setting(settings, conf, message):
    settings.CACHEOPS_DEFAULTS = {}
    settings.CACHEOPS = conf
    with pytest.raises(ImproperlyConfigured, match=message) as info:
        prepare_profiles()
    assert "CACHEOPS" in str(info.value)
    errors = [e for e in run_checks(tags=["cacheops"]) if e.id.startswith("cacheops.")]
    assert [e.id for e in errors] == ["cacheops.E001"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CACHEOPS_PREFIX", "tests.nowhere.prefix", "CACHEOPS_PREFIX"),
        ("CACHEOPS_PREFIX", 42, "CACHEOPS_PREFIX"),
        ("CACHEOPS_SERIALIZER", "no_such_serializer_module", "CACHEOPS_SERIALIZER"),
        ("CACHEOPS_SERIALIZER", "os", "dumps"),
        ("CACHEOPS_CLIENT_CLASS", "redis.Nope", "CACHEOPS_CLIENT_CLASS"),
    ],
)
def test_bad_dotted_settings(settings, name, value, message):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        getattr(cacheops_settings, name)
    assert "cacheops.E002" in [e.id for e in run_checks(tags=["cacheops"])]


def test_redis_url_dict_and_client_class(settings, redis_server):
    settings.CACHEOPS_REDIS = {"host": redis_server.host, "port": redis_server.port, "db": 3}
    assert get_client().connection_pool.connection_kwargs["db"] == 3
    settings.CACHEOPS_REDIS = redis_server.url_for_db(4)
    assert get_client().connection_pool.connection_kwargs["db"] == 4
    settings.CACHEOPS_CLIENT_CLASS = "tests.test_settings.MyRedis"
    assert isinstance(get_client(), MyRedis)
    assert get_client().ping()
    settings.CACHEOPS_REDIS = "http://example.com"
    with pytest.raises(ImproperlyConfigured, match="CACHEOPS_REDIS"):
        get_client()
    settings.CACHEOPS_REDIS = redis_server.url
    settings.CACHEOPS_SENTINEL = {"locations": [("127.0.0.1", 1)], "service_name": "m"}
    with pytest.raises(ImproperlyConfigured, match="CACHEOPS_SENTINEL"):
        get_client()
    assert "cacheops.E003" in [e.id for e in run_checks(tags=["cacheops"])]


def test_sentinel_needs_locations_and_service(settings):
    settings.CACHEOPS_REDIS = {}
    settings.CACHEOPS_SENTINEL = {"service_name": "m"}
    with pytest.raises(ImproperlyConfigured, match="locations"):
        get_client()
    settings.CACHEOPS_SENTINEL = {"locations": [("127.0.0.1", 1)], "service_name": "m", "db": 2}
    client = get_client()
    assert client.connection_pool.service_name == "m"


@pytest.mark.parametrize(
    ("redis_conf", "sentinel", "message"),
    [
        ({}, [("127.0.0.1", 1)], "CACHEOPS_SENTINEL must be a dict"),
        ({}, {"service_name": "m"}, "CACHEOPS_SENTINEL: missing 'locations'"),
        ({}, {"locations": [("127.0.0.1", 1)]}, "CACHEOPS_SENTINEL: missing 'service_name'"),
        ("redis://127.0.0.1:1/0", {"locations": [("127.0.0.1", 1)], "service_name": "m"}, "only one of"),
    ],
)
def test_the_asyncio_client_reads_sentinel_settings_as_the_synchronous_one(
    settings, redis_conf, sentinel, message
):
    """Both clients are built from one reading of CACHEOPS_REDIS/CACHEOPS_SENTINEL: the same
    mistake gets the same error, in synchronous code and in an event loop."""
    import asyncio

    from cacheops.async_redis import get_async_client

    settings.CACHEOPS_REDIS = redis_conf
    settings.CACHEOPS_SENTINEL = sentinel
    with pytest.raises(ImproperlyConfigured, match=message):
        get_client()

    async def build() -> object:
        return get_async_client()

    with pytest.raises(ImproperlyConfigured, match=message):
        asyncio.run(build())


def test_the_asyncio_client_finds_the_master_through_the_sentinel_options(settings):
    """A sentinel client in an event loop gets the service name, database and connection options
    of CACHEOPS_SENTINEL (no sentinel answers here: only the client's set-up is checked)."""
    import asyncio

    from cacheops.async_redis import get_async_client

    settings.CACHEOPS_REDIS = {}
    settings.CACHEOPS_SENTINEL = {
        "locations": [("127.0.0.1", 1)],
        "service_name": "m",
        "db": 3,
        "socket_timeout": 2.5,
        "sentinel_kwargs": {"socket_timeout": 0.5},
    }

    async def build() -> object:
        return get_async_client()

    pool = asyncio.run(build()).connection_pool
    assert pool.service_name == "m"
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["socket_timeout"] == 2.5
    assert pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs["socket_timeout"] == 0.5


class MyRedis(redis.Redis):
    pass


@pytest.mark.django_db(transaction=True)
def test_custom_serializer(settings):
    from tests import serializer

    settings.CACHEOPS_SERIALIZER = "tests.serializer"
    serializer.calls.clear()
    Category.objects.create(title="a")
    list(Category.objects.all())
    assert [c.title for c in Category.objects.all()] == ["a"]
    assert serializer.calls == ["dumps", "loads"]


@pytest.mark.django_db(transaction=True)
def test_disabled(settings, django_assert_num_queries):
    settings.CACHEOPS_ENABLED = False
    Category.objects.create(title="a")
    list(Category.objects.all())
    with django_assert_num_queries(1):
        list(Category.objects.all())


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", "auto"), ((1, 100), (1, 100)), ([2, 5], (2, 5)), (None, None), (False, None)],
)
def test_cluster_wait_values(settings, value, expected):
    assert cacheops_settings.CACHEOPS_CLUSTER_WAIT == "auto", "the default"
    settings.CACHEOPS_CLUSTER_WAIT = value
    wait = cacheops_settings.CACHEOPS_CLUSTER_WAIT
    assert wait == expected


@pytest.mark.parametrize(
    "value", ["on", True, 1, (1,), (0, 100), (1, 0), (1, 0.5), ("1", "100"), (True, 100)]
)
def test_bad_cluster_wait_is_named(settings, value):
    settings.CACHEOPS_CLUSTER_WAIT = value
    with pytest.raises(ImproperlyConfigured, match="CACHEOPS_CLUSTER_WAIT"):
        _ = cacheops_settings.CACHEOPS_CLUSTER_WAIT
    assert "cacheops.E002" in [e.id for e in run_checks(tags=["cacheops"])]
