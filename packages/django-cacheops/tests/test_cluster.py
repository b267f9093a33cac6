"""cacheops on a real 3-master Redis Cluster (CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster").

Every test runs in the storage modes of tests/modes.py (classic, insideout, classic with a prefix).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from cacheops import cached, cached_as, invalidate_all, invalidate_model, invalidate_obj, no_invalidation
from cacheops.checks import check_settings
from cacheops.management.commands.reapconjs import reap_conjs
from cacheops.memory import local_cache
from cacheops.redis import get_client, shard_tags
from tests.asyncrun import run
from tests.testapp.models import CacheOnSaveModel, Category, Post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


@pytest.fixture
def cluster(settings: Any, redis_cluster: Any, redis_cluster_server: Any) -> Any:
    """Point cacheops at the cluster through the URL of one of its nodes; yields a cluster client."""
    node = redis_cluster_server.nodes[0]
    settings.CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"
    settings.CACHEOPS_REDIS = f"redis://{node.host}:{node.port}/0"
    invalidate_all()
    return redis_cluster


def rename_silently(cat: Category, title: str) -> None:
    with no_invalidation:
        Category.objects.filter(pk=cat.pk).update(title=title)


def cluster_keys(client: Any) -> list[bytes]:
    return list(client.scan_iter(match="*"))


def test_the_client_is_a_cluster_client(cluster):
    import redis.cluster

    assert isinstance(get_client(), redis.cluster.RedisCluster)


def test_caching_and_granular_invalidation(cluster, queries, redis_server):
    a = Category.objects.create(title="a")
    b = Category.objects.create(title="b")
    assert Category.objects.get(pk=a.pk).title == "a"
    assert Category.objects.get(pk=b.pk).title == "b"
    with queries() as q:
        assert Category.objects.get(pk=a.pk).title == "a"
        assert Category.objects.get(pk=b.pk).title == "b"
    assert q.count == 0

    keys = cluster_keys(cluster)
    entries = [k for k in keys if b"q:" in k]
    assert entries and any(b"conj:" in k for k in keys)
    # every key is behind the hash tag of a shard, and what an entry depends on shares its slot
    tags = {tag.encode() for tag in shard_tags()}
    assert all(k[: k.index(b"}") + 1] in tags for k in keys)
    for entry in entries:
        tag = entry[: entry.index(b"}") + 1]
        assert any(k.startswith(tag) and b"conj:" in k for k in keys)
    # nothing went to the single test server
    assert not list(redis_server.client().scan_iter(match="*q:*"))

    a.title = "a2"
    a.save()
    with queries() as q:
        assert Category.objects.get(pk=a.pk).title == "a2"  # dropped: read again
        assert Category.objects.get(pk=b.pk).title == "b"  # unrelated: still cached
    assert q.count == 1


def test_keys_and_reads_spread_over_every_primary(cluster, queries):
    cats = [Category.objects.create(title=f"c{i}") for i in range(60)]
    for cat in cats:
        assert Category.objects.get(pk=cat.pk).title == cat.title
    with queries() as q:
        for cat in cats:
            assert Category.objects.get(pk=cat.pk).title == cat.title
    assert q.count == 0
    nodes = cluster.nodes_manager
    owners = {nodes.get_node_from_slot(cluster.keyslot(k)).name for k in cluster_keys(cluster) if b"q:" in k}
    assert len(owners) == 3  # every primary holds cached results
    cats[0].title = "changed"
    cats[0].save()  # the invalidation runs in every shard
    with queries() as q:
        assert Category.objects.get(pk=cats[0].pk).title == "changed"
        assert Category.objects.get(pk=cats[1].pk).title == cats[1].title
    assert q.count == 1


def test_invalidate_obj_model_and_all(cluster, queries):
    cat = Category.objects.create(title="a")
    assert list(Category.objects.filter(title__startswith="a").values_list("title", flat=True)) == ["a"]
    assert Category.objects.get(pk=cat.pk).title == "a"

    rename_silently(cat, "b")
    assert Category.objects.get(pk=cat.pk).title == "a"  # stale on purpose
    cat.refresh_from_db()
    invalidate_obj(cat)
    assert Category.objects.get(pk=cat.pk).title == "b"

    rename_silently(cat, "c")
    invalidate_model(Category)  # SCAN on every primary, then the drop script in each shard
    assert Category.objects.get(pk=cat.pk).title == "c"
    assert list(Category.objects.filter(title__startswith="a").values_list("title", flat=True)) == []

    rename_silently(cat, "d")
    invalidate_all()  # FLUSHDB on every primary
    assert not [k for k in cluster_keys(cluster) if b"q:" in k]
    assert Category.objects.get(pk=cat.pk).title == "d"


def test_cached_as_and_cached(cluster):
    cat = Category.objects.create(title="a")
    calls = []

    @cached_as(Category.objects.filter(pk=cat.pk))
    def titles() -> list[str]:
        calls.append(1)
        return [c.title for c in Category.objects.filter(pk=cat.pk)]

    @cached(timeout=60)
    def answer(x: int) -> int:
        calls.append(x)
        return x * 2

    assert titles() == ["a"] and titles() == ["a"]
    assert len(calls) == 1
    cat.title = "b"
    cat.save()
    assert titles() == ["b"]
    assert len(calls) == 2
    assert answer(21) == 42 and answer(21) == 42
    assert calls.count(21) == 1
    titles.invalidate()  # the key of the entry, in its shard
    assert titles() == ["b"]
    assert len(calls) == 4


def test_cache_on_save_on_cluster(cluster, queries):
    obj = CacheOnSaveModel.objects.create(title="a")  # stored by the save, in the key's shard
    with queries() as q:
        assert CacheOnSaveModel.objects.get(pk=obj.pk).title == "a"
    assert q.count == 0
    obj.title = "b"
    obj.save()
    with queries() as q:
        assert CacheOnSaveModel.objects.get(pk=obj.pk).title == "b"
    assert q.count == 0


def test_one_message_per_invalidated_table(cluster):
    """The invalidation runs in every shard; fast mode's listeners hear of it once, when all are done."""
    cat = Category.objects.create(title="a")
    pubsub = cluster.pubsub()
    pubsub.subscribe("cacheops:invalidated")
    try:
        assert pubsub.get_message(timeout=2)["type"] == "subscribe"
        cat.title = "b"
        cat.save()
        heard = []
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            heard.append(message["data"])
    finally:
        pubsub.close()
    assert heard == [b"testapp_category"]


def test_transaction_invalidates_on_commit(cluster, queries):
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with transaction.atomic():
        cat.title = "b"
        cat.save()
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "b"
    assert q.count == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        cat.title = "c"
        cat.save()
        raise RuntimeError
    assert Category.objects.get(pk=cat.pk).title == "b"


def test_fast_mode_on_cluster(cluster, settings, queries):
    settings.CACHEOPS = {"testapp.category": {"ops": "all", "local": True}, "testapp.*": {"ops": "all"}}
    local_cache.clear()
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"  # memory copy, stamps checked by MGET
    assert q.count == 0
    cat.title = "b"
    cat.save()
    assert Category.objects.get(pk=cat.pk).title == "b"

    async def read() -> str:
        return (await Category.objects.aget(pk=cat.pk)).title

    assert run(read()) == "b"  # async fast-mode reads take the synchronous path on a cluster


def test_dog_pile_lock_on_cluster(cluster, settings, queries):
    settings.CACHEOPS = {"testapp.*": {"ops": "all", "lock": True}}
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert not [k for k in cluster_keys(cluster) if b"lock:" in k]  # released


def test_async_reads_on_cluster(cluster, queries):
    cat = Category.objects.create(title="a")
    Post.objects.create(title="p", category=cat)

    async def read() -> str:
        return (await Category.objects.aget(pk=cat.pk)).title

    async def native_hit() -> tuple[str, bool]:
        import asyncio

        from cacheops import async_redis

        title = (await Category.objects.aget(pk=cat.pk)).title
        held = async_redis._loops.get(asyncio.get_running_loop())  # made by the hit: no thread fallback
        client = held and held.client
        return title, isinstance(client, AsyncRedisCluster)

    assert run(read()) == "a"
    with queries() as q:
        assert run(native_hit()) == ("a", True)
    assert q.count == 0
    cat.title = "b"
    cat.save()
    assert run(read()) == "b"


def test_reapconjs_on_cluster(cluster, mode):
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    for key in cluster_keys(cluster):
        if b"q:" in key:
            cluster.delete(key)
    result = reap_conjs(min_conj_set_size=0)
    assert result.scanned_keys > 0
    from cacheops.conf import settings as cacheops_settings

    if cacheops_settings.CACHEOPS_INSIDEOUT:  # the insideout mode, or CACHEOPS_INSIDEOUT=1 for the run
        assert result.conj_sets == 0  # stamps, not sets
    else:
        assert result.dead_members >= 1
        assert not [k for k in cluster_keys(cluster) if b"conj:" in k]


@pytest.mark.parametrize(
    ("conf", "sentinel", "message"),
    [
        ("redis://127.0.0.1:7000/3", {}, "only database 0"),
        ({"host": "127.0.0.1", "port": 7000, "db": 2}, {}, "only database 0"),
        ("unix:///tmp/redis.sock", {}, "over TCP"),
        ({}, {"locations": [("127.0.0.1", 26379)], "service_name": "x"}, "CACHEOPS_SENTINEL"),
        ({}, {}, "CACHEOPS_REDIS must name a cluster node"),
    ],
)
def test_bad_cluster_settings_are_named(settings, conf, sentinel, message):
    settings.CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"
    settings.CACHEOPS_REDIS = conf
    settings.CACHEOPS_SENTINEL = sentinel
    with pytest.raises(ImproperlyConfigured, match=message):
        get_client()
    errors = [e for e in check_settings() if e.id == "cacheops.E004"]
    assert len(errors) == 1 and message in errors[0].msg


def test_stats_on_cluster(cluster, settings):
    from cacheops.counters import install_stats, reset_stats, stats

    settings.CACHEOPS_STATS = True
    install_stats()
    reset_stats()
    cat = Category.objects.create(title="a")
    Category.objects.get(pk=cat.pk)
    Category.objects.get(pk=cat.pk)
    counts = stats(Category)["testapp.category"]
    assert counts["hits"] == 1 and counts["misses"] == 1
    reset_stats()


def _calls(cluster_server: Any, command: str) -> int:
    """Calls of ``command`` so far, summed over the cluster's primaries (``INFO commandstats``)."""
    return sum(
        node.client().info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)
        for node in cluster_server.nodes
    )


def test_no_replica_no_wait(cluster, redis_cluster_server, settings):
    """CACHEOPS_CLUSTER_WAIT's default ("auto") costs nothing on a cluster without replicas: no
    WAIT is sent, while the invalidations themselves run on the primaries."""
    cat = Category.objects.create(title="a")
    Category.objects.get(pk=cat.pk)
    waits, scripts = _calls(redis_cluster_server, "wait"), _calls(redis_cluster_server, "evalsha")
    for i in range(3):
        cat.title = f"a{i}"
        cat.save()
        assert Category.objects.get(pk=cat.pk).title == f"a{i}"
    assert _calls(redis_cluster_server, "evalsha") > scripts
    assert _calls(redis_cluster_server, "wait") == waits
