"""Every layer on a real 3-master Redis Cluster."""

from __future__ import annotations

import pytest
from redis.cluster import key_slot
from schematics.exceptions import DataError

from redis_schematics import NotFound

from .conftest import ice_cream
from .models import ICE_CREAMS, IndexedIceCream, VolatileIndexed


@pytest.mark.parametrize("model", ICE_CREAMS, ids=lambda m: m.__name__)
def test_full_api_on_a_cluster(cluster, model):
    for i in range(30):
        ice_cream(model, f"ice{i}", "vanilla" if i % 2 else "mint", i).set()
    assert len(model.all()) == 30
    assert model.match_for_pk("ice7").amount_kg == 7
    assert sorted(o.amount_kg for o in model.filter(amount_kg__gte=27)) == [27, 28, 29]
    assert model.match(id="ice3", flavour="vanilla").amount_kg == 3
    obj = model.match_for_pk("ice4")
    obj.flavour = "lemon"
    obj.set()
    assert [o.id for o in model.filter(flavour="lemon")] == ["ice4"]
    model.match_for_pk("ice5").delete()
    with pytest.raises(NotFound):
        model.match_for_pk("ice5")
    assert model.delete_filter(flavour="vanilla") == 14
    assert model.delete_all() == 15
    assert model.all() == []


def test_simple_layer_spreads_objects_over_the_masters(cluster):
    from .models import SimpleIceCream

    for i in range(30):
        SimpleIceCream({"id": str(i)}).set()
    slots = {key_slot(f"SimpleIceCream:{i}".encode()) for i in range(30)}
    assert len(slots) > 1
    assert len(SimpleIceCream.all()) == 30  # SCAN ran on every master


def test_indexed_keys_share_one_hash_slot(cluster):
    for i in range(5):
        ice_cream(IndexedIceCream, str(i), f"flavour{i}", i).set()
    keys = [k for node in cluster.get_primaries() for k in cluster.scan_iter(target_nodes=node)]
    assert len(keys) > 10
    assert {key_slot(k) for k in keys} == {key_slot(b"{IndexedIceCream}")}


@pytest.mark.parametrize("model", ICE_CREAMS, ids=lambda m: m.__name__)
def test_pipeline_on_a_cluster(cluster, model):
    with model.pipeline() as p:
        for i in range(20):
            ice_cream(model, str(i), "mint", i).set(pipeline=p)
    assert len(model.all()) == 20
    with pytest.raises(DataError), model.pipeline() as p:
        ice_cream(model, "x", "mint", 1).set(pipeline=p)
        bad = ice_cream(model, "y", "mint", 1)
        bad.amount_kg = "nope"
        bad.set(pipeline=p)
    assert len(model.all()) == 20


def test_indexed_expiry_sweep_on_a_cluster(cluster):
    VolatileIndexed({"id": "a", "colour": "red", "size": 1}).set()
    VolatileIndexed({"id": "b", "colour": "red", "size": 2}).set()
    cluster.delete("{VolatileIndexed}:obj:a")  # gone as if expired
    assert [o.id for o in VolatileIndexed.filter(colour="red")] == ["b"]
    assert cluster.smembers('{VolatileIndexed}:eq:colour:"red"') == {b"b"}


@pytest.mark.parametrize("model", ICE_CREAMS, ids=lambda m: m.__name__)
def test_asyncio_cluster_client(cluster, redis_cluster_server, model):
    import asyncio

    from redis.asyncio.cluster import ClusterNode, RedisCluster

    from redis_schematics import BaseRedisMixin

    async def scenario():
        client = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in redis_cluster_server.startup_nodes]
        )
        BaseRedisMixin.__async_redis_client__ = client
        try:
            for i in range(10):
                await ice_cream(model, str(i), "mint", i).aset()
            async with model.apipeline() as p:
                for i in range(10, 20):
                    await ice_cream(model, str(i), "lemon", i).aset(pipeline=p)
            assert len(await model.aall()) == 20
            assert sorted(o.amount_kg for o in await model.afilter(amount_kg__gte=18)) == [18, 19]
            assert (await model.amatch_for_pk("3")).flavour == "mint"
            assert await model.adelete_filter(flavour="lemon") == 10
            assert await model.adelete_all() == 10
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_hash_layer_with_expiry_on_a_cluster(cluster):
    from .models import VolatileHash

    VolatileHash({"id": "a"}).set()
    with VolatileHash.pipeline() as p:
        VolatileHash({"id": "b"}).set(pipeline=p)
    assert sorted(o.id for o in VolatileHash.all()) == ["a", "b"]
    assert 3590 < cluster.ttl("VolatileHash") <= 3600
