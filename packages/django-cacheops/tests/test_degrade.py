"""CACHEOPS_DEGRADE_ON_FAILURE with a redis-server killed in the middle of the test."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time

import pytest
import redis

from cacheops import CacheMiss, cache, cached, cached_as, invalidate_all, invalidate_model
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


class OwnRedis:
    """A redis-server this test can kill and start again on the same port."""

    def __init__(self) -> None:
        from shared_testing.servers import free_port, redis_server_binary

        self.binary = redis_server_binary()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cacheops-degrade-")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(300):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def own_redis(settings):
    server = OwnRedis()
    server.start()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # no retries with backoff: a dead server fails at once
    settings.CACHEOPS_REDIS = {
        "host": "127.0.0.1",
        "port": server.port,
        "socket_timeout": 2,
        "retry": Retry(NoBackoff(), 0),
    }
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    yield server
    if server.proc and server.proc.poll() is None:
        server.kill()


def test_redis_killed_then_back(own_redis, django_assert_num_queries):
    cat = Category.objects.create(title="a")
    list(Category.objects.all())
    with django_assert_num_queries(0):
        list(Category.objects.all())

    @cached_as(Category)
    def titles():
        return [c.title for c in Category.objects.nocache()]

    @cached(timeout=60)
    def plain():
        return 1

    own_redis.kill()
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert [c.title for c in Category.objects.all()] == ["a"]
    with pytest.warns(RuntimeWarning):
        cat.title = "b"
        cat.save()
    with pytest.warns(RuntimeWarning):
        assert titles() == ["b"]
    with pytest.warns(RuntimeWarning):
        assert plain() == 1
    with pytest.warns(RuntimeWarning), pytest.raises(CacheMiss):
        cache.get("x")
    with pytest.warns(RuntimeWarning):
        cache.set("x", 1)
    with pytest.warns(RuntimeWarning):
        invalidate_model(Category)
    with pytest.warns(RuntimeWarning):
        invalidate_all()
    with pytest.warns(RuntimeWarning):
        assert Category.objects.count() == 1

    own_redis.start()  # an empty server: nothing stale can come back
    assert [c.title for c in Category.objects.all()] == ["b"]
    with django_assert_num_queries(0):
        assert [c.title for c in Category.objects.all()] == ["b"]


def test_without_degrade_errors_surface(own_redis, settings):
    settings.CACHEOPS_DEGRADE_ON_FAILURE = False
    Category.objects.create(title="a")
    own_redis.kill()
    with pytest.raises(redis.ConnectionError):
        list(Category.objects.all())


def test_a_degraded_redis_is_logged_for_operators_once_every_few_seconds(own_redis, caplog, monkeypatch):
    import cacheops.redis

    Category.objects.create(title="a")
    monkeypatch.setattr(cacheops.redis, "_last_logged", -cacheops.redis.LOG_EVERY)
    own_redis.kill()
    caplog.set_level(logging.WARNING, logger="cacheops.redis")
    for _ in range(5):  # every read fails: one warning each, one log record in all
        with pytest.warns(RuntimeWarning, match="unreachable"):
            assert [c.title for c in Category.objects.all()] == ["a"]
    records = [r for r in caplog.records if r.name == "cacheops.redis"]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING
    assert "cacheops cache is unreachable" in records[0].getMessage()
    assert "without the cache" in records[0].getMessage()
    monkeypatch.setattr(cacheops.redis, "_last_logged", -cacheops.redis.LOG_EVERY)  # the interval passed
    with pytest.warns(RuntimeWarning):
        Category.objects.count()
    assert len([r for r in caplog.records if r.name == "cacheops.redis"]) == 2
