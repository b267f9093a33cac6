"""CACHEOPS_SENTINEL against a real redis-sentinel process monitoring the test Redis."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from mirakuru import TCPExecutor

from shared_testing.servers import free_port, redis_server_binary, wait_until
from tests.asyncrun import run
from tests.testapp.models import Category

pytestmark = [pytest.mark.django_db(transaction=True)]

SERVICE = "cacheops-tests"


@pytest.fixture(scope="module")
def sentinel(redis_server: Any) -> Iterator[tuple[str, int]]:
    """A redis-sentinel (``redis-server <conf> --sentinel``) on a free port, watching the test Redis."""
    workdir = tempfile.TemporaryDirectory(prefix="cacheops-sentinel-")
    port = free_port()
    conf = os.path.join(workdir.name, "sentinel.conf")
    with open(conf, "w") as f:  # sentinel rewrites its config file, so it must be a writable file
        f.write(
            f"port {port}\nbind 127.0.0.1\ndir {workdir.name}\n"
            f"sentinel monitor {SERVICE} {redis_server.host} {redis_server.port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 60000\n"
        )
    command = [redis_server_binary(), conf, "--sentinel", "--logfile", os.path.join(workdir.name, "log")]
    executor = TCPExecutor(command, host="127.0.0.1", port=port, timeout=30)
    executor.start()
    client = redis.Redis(host="127.0.0.1", port=port)
    wait_until(
        lambda: client.sentinel_get_master_addr_by_name(SERVICE) is not None,
        timeout=30,
        what="the sentinel to know its master",
    )
    try:
        yield "127.0.0.1", port
    finally:
        client.close()
        executor.stop()
        workdir.cleanup()


def test_caching_through_sentinel(sentinel, settings, queries, redis_server):
    settings.CACHEOPS_REDIS = {}
    settings.CACHEOPS_SENTINEL = {
        "locations": [sentinel],
        "service_name": SERVICE,
        "db": 0,
        "socket_timeout": 5,
    }
    from cacheops.redis import get_client

    host, port = get_client().connection_pool.get_master_address()
    assert (host, int(port)) == (redis_server.host, redis_server.port)

    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert any(b"q:" in k for k in redis_server.client().scan_iter(match="*q:*"))  # maybe prefixed
    cat.title = "b"
    cat.save()
    assert Category.objects.get(pk=cat.pk).title == "b"

    async def read() -> str:
        return (await Category.objects.aget(pk=cat.pk)).title

    assert run(read()) == "b"


def test_sentinel_settings_errors(settings):
    from django.core.exceptions import ImproperlyConfigured

    from cacheops.redis import get_client

    settings.CACHEOPS_SENTINEL = {"locations": [("127.0.0.1", 1)]}
    settings.CACHEOPS_REDIS = {}
    with pytest.raises(ImproperlyConfigured, match="service_name"):
        get_client()
