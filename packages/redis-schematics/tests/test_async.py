"""The same API on redis.asyncio: aset, amatch_for_pk, afilter, ... on every layer."""

from __future__ import annotations

import pytest
from schematics.exceptions import DataError

from redis_schematics import ConfigurationError, MultipleFound, NotFound

from .conftest import ice_cream
from .models import ICE_CREAMS, Order, Shop


@pytest.mark.parametrize("model", ICE_CREAMS, ids=lambda m: m.__name__)
def test_async_round_trip_on_every_layer(arun, r, model):
    async def scenario():
        for i in range(4):
            await ice_cream(model, str(i), "vanilla" if i % 2 else "mint", i).aset()
        loaded = await model.amatch_for_pk("1")
        assert loaded.flavour == "vanilla"
        assert sorted(o.id for o in await model.aall()) == ["0", "1", "2", "3"]
        assert sorted(o.id for o in await model.afilter(amount_kg__gte=2)) == ["2", "3"]
        assert (await model.amatch(id="3")).amount_kg == 3
        assert (await model.amatch_for_values(amount_kg__gt=2)).id == "3"
        with pytest.raises(MultipleFound):
            await model.amatch_for_values(flavour="mint")
        loaded.amount_kg = 10
        await loaded.aset()
        fresh = ice_cream(model, "1", "vanilla", 1)
        await fresh.arefresh()
        assert fresh.amount_kg == 10
        await fresh.adelete()
        with pytest.raises(NotFound):
            await model.amatch_for_pk("1")
        assert await model.adelete_filter(flavour="mint") == 2
        assert await model.adelete_all() == 1
        assert await model.aall() == []

    arun(scenario)
    assert model.all() == []  # the sync client sees the same data


@pytest.mark.parametrize("model", ICE_CREAMS, ids=lambda m: m.__name__)
def test_async_pipeline_and_failed_validation(arun, r, model):
    async def scenario():
        async with model.apipeline() as p:
            for i in range(5):
                await ice_cream(model, str(i), "mint", i).aset(pipeline=p)
        with pytest.raises(DataError):
            async with model.apipeline() as p:
                await ice_cream(model, "x", "mint", 1).aset(pipeline=p)
                bad = ice_cream(model, "y", "mint", 1)
                bad.amount_kg = "nope"
                await bad.aset(pipeline=p)
        return sorted(o.id for o in await model.aall())

    assert arun(scenario) == ["0", "1", "2", "3", "4"]


def test_async_reference_loading(arun, r):
    async def scenario():
        shop = Shop({"id": "s1", "city": "Lisbon"})
        await shop.aset()
        await Order({"pk": "o1", "shop": shop, "litres": 3}).aset()
        order = await Order.amatch_for_pk("o1")
        assert not order.shop.loaded
        loaded = await order.shop.aload()
        return loaded.city

    assert arun(scenario) == "Lisbon"


def test_async_methods_without_async_client_raise_a_clear_error(r):
    import asyncio

    from .models import SimpleIceCream

    with pytest.raises(ConfigurationError, match="__async_redis_client__"):
        asyncio.run(SimpleIceCream.aall())
