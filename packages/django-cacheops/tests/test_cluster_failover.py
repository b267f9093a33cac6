"""Failover on a Redis Cluster with one replica per primary (issue 22).

A primary dies with invalidations its replica never received; once the replica has taken over, no
cached read is stale. The replica is cut off from its primary first (stopped, its replication link
closed), so the primary acknowledges writes that reach no replica: what asynchronous replication
loses when a primary dies. ``CACHEOPS_CLUSTER_WAIT`` follows every invalidation with ``WAIT`` and
keeps what no replica acknowledged, to send it again to whoever owns the slots then.
"""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from cacheops import invalidate_all, invalidation
from shared_testing.servers import RedisClusterServer, RedisServer, start_redis_cluster, wait_until
from tests.testapp.models import Category

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def replicated() -> Iterator[RedisClusterServer]:
    """A 3-primary cluster, a replica per primary, failing over after one second of silence."""
    cluster = start_redis_cluster(replicas=1, node_timeout_ms=1000)
    try:
        yield cluster
    finally:
        invalidation.unreplicated.take()  # nothing of this cluster is sent to the next one
        invalidation.missed.take()
        cluster.stop()


def _promoted(replica: RedisServer, survivor: RedisServer) -> bool:
    return (
        replica.client().info("replication")["role"] == "master"
        and survivor.client().cluster("INFO")["cluster_state"] == "ok"
    )


def _titles(cats: list[Category]) -> tuple[list[str], list[str]]:
    """(cached titles, database titles) of ``cats``."""
    return (
        [Category.objects.get(pk=c.pk).title for c in cats],
        [Category.objects.nocache().get(pk=c.pk).title for c in cats],
    )


def _fail_over(cluster: RedisClusterServer, cats: list[Category]) -> None:
    """Save every category while the first primary's replica gets none of it, kill that primary,
    and return once its replica has taken over."""
    primary, replica, survivor = cluster.nodes[0], cluster.replicas[0], cluster.nodes[1]
    assert replica.executor is not None and primary.executor is not None
    pid = replica.executor.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        primary.client().client_kill_filter(_type="replica")  # what it sends from now on is lost
        for cat in cats:
            cat.title += "!"
            cat.save()
        primary.executor.kill(sig=signal.SIGKILL)
    finally:
        os.kill(pid, signal.SIGCONT)

    def used_while_failing_over() -> bool:
        """Reads and a write while the primary is down: no exception, only warnings (what they
        read is checked once the replica has taken over)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for cat in cats[:8]:
                Category.objects.get(pk=cat.pk)
            cats[0].save()
        return _promoted(replica, survivor)

    wait_until(used_while_failing_over, timeout=30, what="the replica took over")


def _use(cluster: RedisClusterServer, settings: Any, wait: Any) -> list[Category]:
    node = cluster.nodes[1]  # a node that survives
    settings.CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"
    settings.CACHEOPS_REDIS = f"redis://{node.host}:{node.port}/0"
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    settings.CACHEOPS_CLUSTER_WAIT = wait
    invalidate_all()
    cats = [Category.objects.create(title=f"c{i}") for i in range(48)]
    cached, stored = _titles(cats)  # cached: in every shard, so on every primary
    assert cached == stored
    return cats


def test_no_stale_read_after_failover_with_wait(replicated, settings):
    cats = _use(replicated, settings, (1, 100))
    _fail_over(replicated, cats)
    assert invalidation.unreplicated.pending  # kept: no replica acknowledged them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degraded reads while the cluster heals
        invalidation.resend_unreplicated()  # what the replay thread does every half second
        cached, stored = _titles(cats)
    assert cached == stored


def test_without_wait_the_invalidations_die_with_the_primary(replicated, settings):
    """What ``CACHEOPS_CLUSTER_WAIT`` is for: without it the lost invalidations leave stale reads."""
    cats = _use(replicated, settings, None)
    _fail_over(replicated, cats)
    assert not invalidation.unreplicated.pending
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cached, stored = _titles(cats)
    stale = sum(c != s for c, s in zip(cached, stored))
    assert 0 < stale < len(cats)  # the results in the dead primary's shards
