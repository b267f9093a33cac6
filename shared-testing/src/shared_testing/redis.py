"""Opt-in pytest plugin: a real Redis server and a real Redis Cluster.

Enable with ``-p shared_testing.redis``. Fixtures:

* ``redis_server`` (session): :class:`~shared_testing.servers.RedisServer` with
  ``url``, ``host``, ``port`` and ``version`` (a tuple such as ``(7, 0, 15)``);
* ``redis_url`` (session): the server's URL;
* ``redis_client`` (function): a ``redis.Redis`` on that server, flushed after the test;
* ``redis_cluster_server`` (session) and ``redis_cluster`` (function): a 3-master
  cluster and a ``redis.cluster.RedisCluster`` client, flushed after the test.

The marker ``@pytest.mark.requires_redis(">=7.0")`` skips a test on older servers.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

import pytest

from .servers import RedisClusterServer, RedisServer, get_redis_cluster, get_redis_server

_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


def version_matches(version: tuple[int, ...], spec: str) -> bool:
    """Whether ``version`` satisfies ``spec`` such as ``">=7.0"``."""
    spec = spec.strip()
    for symbol in sorted(_OPERATORS, key=len, reverse=True):
        if spec.startswith(symbol):
            wanted = tuple(int(p) for p in spec[len(symbol) :].strip().split("."))
            return _OPERATORS[symbol](version[: len(wanted)], wanted)
    raise ValueError(f"bad version spec {spec!r}: use e.g. '>=7.0'")


def pytest_report_header(config: pytest.Config) -> str:
    return f"redis: {get_redis_server().describe()}"


@pytest.fixture(scope="session")
def redis_server() -> RedisServer:
    return get_redis_server()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[Any]:
    client = redis_server.client()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def redis_cluster_server() -> RedisClusterServer:
    return get_redis_cluster()


@pytest.fixture
def redis_cluster(redis_cluster_server: RedisClusterServer) -> Iterator[Any]:
    client = redis_cluster_server.client()
    try:
        yield client
    finally:
        client.flushall(target_nodes="primaries")
        client.close()


@pytest.fixture(autouse=True)
def _requires_redis(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("requires_redis")
    if marker is None:
        return
    version = request.getfixturevalue("redis_server").version
    spec = marker.args[0]
    if not version_matches(version, spec):
        found = ".".join(map(str, version))
        pytest.skip(f"needs Redis {spec}, server is {found}")
