"""Storage layout of the original redis-schematics: data written by either side reads on the other."""

from __future__ import annotations

import json

import pytest
import redis
from schematics import types

from redis_schematics import HashRedisModel, SimpleRedisModel

from .models import HashIceCream, SimpleIceCream, Volatile, VolatileHash


class IceCreamModel(SimpleRedisModel):
    id = types.StringType()
    flavour = types.StringType()
    amount_kg = types.IntType()
    best_before = types.DateTimeType()


class HashIceCreamModel(HashRedisModel):
    id = types.IntType(required=True)
    name = types.StringType()
    good_number = types.IntType()


def original_dump(data: dict) -> bytes:
    """What the original wrote: ``json.dumps(to_primitive())`` with default separators."""
    return json.dumps(data).encode()


def test_simple_layer_writes_one_json_string_key_per_object(r):
    IceCreamModel({"id": "vanilla", "flavour": "Sweet Vanilla", "amount_kg": 42}).set()
    assert r.keys("*") == [b"IceCreamModel:vanilla"]
    assert r.type("IceCreamModel:vanilla") == b"string"
    assert json.loads(r.get("IceCreamModel:vanilla")) == {
        "pk": "vanilla",
        "id": "vanilla",
        "flavour": "Sweet Vanilla",
        "amount_kg": 42,
        "best_before": None,
    }
    assert r.ttl("IceCreamModel:vanilla") == -1


def test_simple_layer_reads_keys_in_the_original_layout(r):
    r.set(
        "IceCreamModel:chocolate",
        original_dump(
            {
                "pk": "chocolate",
                "id": "chocolate",
                "flavour": "Delicious Chocolate",
                "amount_kg": 12,
                "best_before": "2017-09-17T10:00:00.000000",
            }
        ),
    )
    obj = IceCreamModel.match_for_pk("chocolate")
    assert obj.flavour == "Delicious Chocolate"
    assert obj.best_before.year == 2017
    assert [o.id for o in IceCreamModel.filter(amount_kg__lt=20)] == ["chocolate"]
    assert IceCreamModel.match(id="chocolate").amount_kg == 12
    assert IceCreamModel.delete_all() == 1
    assert r.exists("IceCreamModel:chocolate") == 0


def test_hash_layer_writes_one_hash_named_after_the_class(r):
    HashIceCreamModel({"id": 123, "name": "Bar", "good_number": 42}).set()
    assert r.keys("*") == [b"HashIceCreamModel"]
    assert json.loads(r.hget("HashIceCreamModel", "HashIceCreamModel:123")) == {
        "pk": "123",
        "id": 123,
        "name": "Bar",
        "good_number": 42,
    }


def test_hash_layer_reads_entries_in_the_original_layout(r):
    r.hset(
        "HashIceCreamModel",
        mapping={
            "HashIceCreamModel:1": original_dump({"pk": "1", "id": 1, "name": "One", "good_number": 1}),
            "HashIceCreamModel:2": original_dump({"pk": "2", "id": 2, "name": "Two", "good_number": 2}),
        },
    )
    assert HashIceCreamModel.match(id=2).name == "Two"
    assert HashIceCreamModel.match(pk="1").name == "One"
    assert sorted(o.id for o in HashIceCreamModel.all()) == [1, 2]
    assert HashIceCreamModel.delete_filter(good_number__gt=1) == 1
    assert r.hkeys("HashIceCreamModel") == [b"HashIceCreamModel:1"]


def test_records_without_pk_field_value_get_it_from_the_key(r):
    r.set("IceCreamModel:old", original_dump({"id": "old", "flavour": "x"}))
    assert IceCreamModel.match_for_pk("old").pk == "old"


def test_simple_expire_is_set_on_the_object_key(r):
    Volatile({"id": "v"}).set()
    assert 3590 < r.ttl("Volatile:v") <= 3600


def test_hash_expire_applies_to_the_whole_hash(r):
    VolatileHash({"id": "v"}).set()
    assert 3590 < r.ttl("VolatileHash") <= 3600


def test_prefix_can_be_overridden_with_a_string(r):
    class Renamed(SimpleRedisModel):
        __prefix__ = "ice:cream"
        id = types.StringType()

    Renamed({"id": "a"}).set()
    assert r.keys("*") == [b"ice:cream:a"]
    assert [o.id for o in Renamed.all()] == ["a"]


def test_prefix_with_glob_characters_scans_only_its_own_keys(r):
    class Starry(SimpleRedisModel):
        __prefix__ = "st*r"
        id = types.StringType()

    r.set("stuffr:x", original_dump({"id": "other"}))
    Starry({"id": "a"}).set()
    assert [o.id for o in Starry.all()] == ["a"]


def test_set_key_property_gives_one_hash_per_tenant(r):
    tenant = {"name": "acme"}

    class TenantIceCream(HashRedisModel):
        id = types.StringType()

        @property
        def __set_key__(self):
            return f"tenant:{tenant['name']}:ice"

    TenantIceCream({"id": "a"}).set()
    tenant["name"] = "globex"
    TenantIceCream({"id": "b"}).set()
    assert r.hkeys("tenant:acme:ice") == [b"TenantIceCream:a"]
    assert r.hkeys("tenant:globex:ice") == [b"TenantIceCream:b"]
    assert [o.id for o in TenantIceCream.all()] == ["b"]
    assert TenantIceCream.delete_all() == 1
    assert r.exists("tenant:acme:ice") == 1


def test_custom_serializer_hooks_are_used(r):
    class Reversed(SimpleRedisModel):
        id = types.StringType()

        @staticmethod
        def __serializer__(obj):
            return json.dumps(obj)[::-1]

        @staticmethod
        def __deserializer__(dump):
            return json.loads(dump.decode()[::-1])

    Reversed({"id": "a"}).set()
    assert r.get("Reversed:a").startswith(b"}")
    assert Reversed.match_for_pk("a").id == "a"


@pytest.mark.parametrize("model", [SimpleIceCream, HashIceCream])
def test_decode_responses_clients_work_too(redis_server, bind, model):
    client = bind(redis.Redis.from_url(redis_server.url, decode_responses=True))
    try:
        model({"id": "a", "flavour": "mint"}).set()
        assert model.match_for_pk("a").flavour == "mint"
        assert [o.id for o in model.filter(flavour="mint")] == ["a"]
    finally:
        client.flushdb()
        client.close()


def test_json_hook_returns_the_primitive(r):
    obj = IceCreamModel({"id": "a", "amount_kg": 1})
    assert obj.__json__() == obj.to_primitive()


def test_hash_expire_is_renewed_by_each_set_also_in_pipelines(r):
    VolatileHash({"id": "a"}).set()
    r.expire("VolatileHash", 10)
    with VolatileHash.pipeline() as p:
        VolatileHash({"id": "b"}).set(pipeline=p)
    assert 3590 < r.ttl("VolatileHash") <= 3600
    assert sorted(r.hkeys("VolatileHash")) == [b"VolatileHash:a", b"VolatileHash:b"]
