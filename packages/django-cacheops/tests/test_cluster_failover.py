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
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cacheops import invalidate_all, invalidation
from shared_testing.servers import RedisClusterServer, RedisServer, start_redis_cluster, wait_until
from tests.testapp.models import Category, Label

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def replicated() -> Iterator[RedisClusterServer]:
    """A 3-primary cluster, a replica per primary, failing over after one second of silence."""
    cluster = start_redis_cluster(replicas=1, node_timeout_ms=1000)
    try:
        # a replica that has replicated nothing yet is left out of CLUSTER SLOTS (so out of the
        # topology a client learns): a write on every primary, as a cluster in use has had
        client = cluster.client()
        for i in range(30):
            client.set(f"warm-up:{i}", 1, ex=5)

        def replicas_listed() -> bool:
            return all(len(r) > 3 for r in cluster.nodes[1].client().execute_command("CLUSTER SLOTS"))

        wait_until(replicas_listed, timeout=30, what="replicas listed by CLUSTER SLOTS")
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
    stored = dict(Category.objects.nocache().filter(pk__in=[c.pk for c in cats]).values_list("pk", "title"))
    return [Category.objects.get(pk=c.pk).title for c in cats], [stored[c.pk] for c in cats]


def _stale(cats: list[Category]) -> int:
    """How many cached reads of ``cats`` differ from the database (degraded reads warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cached, stored = _titles(cats)
    return sum(c != s for c, s in zip(cached, stored))


def _cached_stale(cats: list[Category]) -> int:
    """How many cached reads of ``cats`` differ from the database, failing when a read was degraded
    (read from the database past the cache: never stale, whatever the cache holds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cached, stored = _titles(cats)
    return sum(c != s for c, s in zip(cached, stored))


def _resent() -> bool:
    """Whether nothing waits to be sent again (and no resend is under way)."""
    with invalidation._replay_lock:
        return not invalidation.unreplicated.pending and not invalidation.missed.pending


@dataclass
class Watch:
    """What rounds of cached reads of every category saw from the primary's death on, and (from a
    thread looking every 5 ms) when the replica took over and when the journals were empty."""

    replica: RedisServer
    killed: float = field(default_factory=time.monotonic)
    unreplicated: bool = False  # whether invalidations waited to be sent again when it was killed
    promoted: float | None = None  # seconds after the kill when the replica was seen a primary
    took_over: float | None = None  # the same, seen by the thread
    resent: float | None = None  # seconds after the kill when the thread saw both journals empty
    reads: int = 0
    stale: int = 0
    stale_at: list[float] = field(default_factory=list)  # seconds after the kill, per stale round

    def __post_init__(self) -> None:
        with invalidation._replay_lock:  # (no resend under way)
            self.unreplicated = invalidation.unreplicated.pending
        self.thread = threading.Thread(target=self._look, daemon=True)
        self.thread.start()

    def _look(self) -> None:
        client = self.replica.client()
        while self.resent is None and time.monotonic() - self.killed < 60:
            if self.took_over is None and client.info("replication")["role"] == "master":
                self.took_over = self.since_kill()
            if self.took_over is not None and _resent():
                self.resent = self.since_kill()
            time.sleep(0.005)

    def since_kill(self) -> float:
        return round(time.monotonic() - self.killed, 3)

    def round(self, cats: list[Category]) -> None:
        stale = _stale(cats)
        self.reads += len(cats)
        self.stale += stale
        if stale:
            self.stale_at.append(self.since_kill())


def _fail_over(cluster: RedisClusterServer, cats: list[Category]) -> Watch:
    """Save every category while the first primary's replica gets none of it, kill that primary,
    and return once its replica has taken over, with what reads of every category (and saves of
    another table's row) saw meanwhile."""
    primary, replica, survivor = cluster.nodes[0], cluster.replicas[0], cluster.nodes[1]
    label = Label.objects.create(text="written while failing over")
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
    watch = Watch(replica)

    def used_while_failing_over() -> bool:
        """Reads and a write while the primary is down: no exception, only warnings. The write is
        to another table: its invalidation, missed while the primary is down and sent again when
        the cluster answers, must not be what clears the categories' stale results (it isn't:
        see test_without_wait_the_invalidations_die_with_the_primary, which writes it too)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            label.save()
        watch.round(cats)
        if not _promoted(replica, survivor):
            return False
        watch.promoted = watch.since_kill()
        return True

    wait_until(used_while_failing_over, timeout=30, what="the replica took over")
    return watch


DEFAULT = object()  # CACHEOPS_CLUSTER_WAIT left unset


def _use(cluster: RedisClusterServer, settings: Any, wait: Any = DEFAULT) -> list[Category]:
    node = cluster.nodes[1]  # a node that survives
    settings.CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"
    settings.CACHEOPS_REDIS = f"redis://{node.host}:{node.port}/0"
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    if wait is not DEFAULT:
        settings.CACHEOPS_CLUSTER_WAIT = wait
    invalidate_all()
    cats = [Category.objects.create(title=f"c{i}") for i in range(48)]
    cached, stored = _titles(cats)  # cached: in every shard, so on every primary
    assert cached == stored
    return cats


def test_no_stale_read_after_failover_by_default(replicated, settings):
    """Without CACHEOPS_CLUSTER_WAIT ("auto"): the invalidations the dead primary's replica never
    got are kept and sent again by the replay thread; no read is stale once they are. Every
    category is read over and over from the kill on; the test prints how many reads were stale and
    when (the README's failover paragraph quotes it)."""
    cats = _use(replicated, settings)
    watch = _fail_over(replicated, cats)
    assert watch.unreplicated  # the categories' invalidations were kept: what makes them fresh
    while not _resent():
        watch.round(cats)
        assert time.monotonic() - watch.killed < 60, "the unreplicated invalidations were never sent again"
    assert _cached_stale(cats) == 0
    watch.thread.join()
    assert watch.took_over is not None and watch.resent is not None
    print(
        f"\nfailover: the replica took over {watch.took_over} s after the kill; the journals were "
        f"sent to it {(watch.resent - watch.took_over) * 1000:.0f} ms later; this process read "
        f"{watch.stale} stale of {watch.reads} cached reads from the kill on (at {watch.stale_at} s)"
    )


def test_no_stale_read_after_failover_with_wait(replicated, settings):
    """An explicit (replicas, ms) is kept to the letter: the new primary has no replica to
    acknowledge, so the invalidations stay in the journal (sent again until UNREPLICATED_FOR), and
    no read is stale."""
    cats = _use(replicated, settings, (1, 50))
    _fail_over(replicated, cats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degraded reads while the cluster heals
        invalidation.resend_unreplicated()  # what the replay thread does
    with invalidation._replay_lock:  # (no resend under way)
        assert invalidation.unreplicated.pending
    assert _cached_stale(cats) == 0


def test_without_wait_the_invalidations_die_with_the_primary(replicated, settings):
    """What ``CACHEOPS_CLUSTER_WAIT`` is for: turned off, the lost invalidations leave stale reads.

    The Label saved while failing over is journalled and sent again once the replica has taken
    over, as in test_no_stale_read_after_failover_by_default: that resend (to the new primary,
    found by asking the cluster again) clears no category, and reads use the cache again. (It once
    went to the dead primary forever, so every read bypassed the cache and none was stale.)"""
    cats = _use(replicated, settings, None)
    watch = _fail_over(replicated, cats)
    assert not watch.unreplicated and not invalidation.unreplicated.pending
    while not _resent():  # the Label's invalidation: sent again by reads and by the replay thread
        watch.round(cats)
        assert time.monotonic() - watch.killed < 30, "the missed invalidation was never sent again"
    stale = _cached_stale(cats)
    assert 0 < stale < len(cats)  # the results in the dead primary's shards
