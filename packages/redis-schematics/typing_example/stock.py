"""A stock ledger on redis-schematics, written as a user would (type-checked only, never run)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import redis
import redis.asyncio
from schematics import types
from typing_extensions import assert_type

from redis_schematics import (
    AsyncPipeline,
    HashRedisModel,
    IndexedRedisModel,
    InvalidFilter,
    ModelJSONEncoder,
    MultipleFound,
    NotFound,
    Pipeline,
    Reference,
    ReferenceType,
    SimpleRedisModel,
    model_json_default,
)
from redis_schematics.exceptions import RedisMixinException
from redis_schematics.patches import patch_json


class Shop(SimpleRedisModel):
    __redis_client__ = redis.Redis()
    __expire__ = dt.timedelta(days=1)
    id = types.StringType()
    city = types.StringType()


class Item(IndexedRedisModel):
    __redis_client__ = redis.Redis()
    __async_redis_client__ = redis.asyncio.Redis()
    __indexes__ = ("sku", "stock")
    sku = types.StringType(required=True)
    stock = types.IntType()
    shop = ReferenceType(Shop)


class Counter(HashRedisModel):
    __redis_client__ = redis.Redis()
    __expire__ = 1.5
    id = types.StringType()


def ledger() -> None:
    shop = Shop({"id": "s1", "city": "Lyon"})
    assert_type(shop.set(), None)
    assert_type(Shop.match_for_pk("s1"), Shop)
    assert_type(Item.filter(stock__gte=3), list[Item])
    assert_type(Item.all(), list[Item])
    assert_type(Item.match(sku="a"), Item)
    assert_type(Item.match_for_values(sku="a"), Item)
    assert_type(Item.delete_all(), int)
    assert_type(Item.delete_filter(stock=0), int)
    assert_type(Item.sweep(), int)
    assert_type(shop.key, str)
    assert_type(Counter.pipeline(), Pipeline)
    with Item.pipeline() as p:
        assert_type(p, Pipeline)
        Item({"sku": "a", "stock": 1, "shop": shop}).set(pipeline=p)
        shop.delete(pipeline=p)
    assert_type(p.results, "list[Any] | None")
    try:
        Item.match(stock=1)
    except MultipleFound as several:
        assert_type(several, MultipleFound)
    except (NotFound, InvalidFilter, RedisMixinException):
        pass
    ref = Reference(Shop, "s1")
    assert_type(ref.pk, str)
    assert_type(ref.loaded, bool)
    patch_json()
    text: str = json.dumps([shop], cls=ModelJSONEncoder) + json.dumps(shop, default=model_json_default)
    print(text)


async def ledger_async() -> None:
    assert_type(await Item.amatch_for_pk("a"), Item)
    assert_type(await Item.afilter(sku="a"), list[Item])
    assert_type(await Item.adelete_all(), int)
    async with Item.apipeline() as p:
        assert_type(p, AsyncPipeline)
        await Item({"sku": "b"}).aset(pipeline=p)
    results: list[Any] = await Item.apipeline().execute()
    print(results)
