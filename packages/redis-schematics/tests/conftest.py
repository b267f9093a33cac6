"""Bind every test model to the real Redis of the test (plain server, cluster or asyncio)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio

from redis_schematics import BaseRedisMixin

from .models import ICE_CREAMS


@pytest.fixture
def bind() -> Iterator[Any]:
    """``bind(client)``: make every model use ``client`` for this test only."""

    def _bind(client: Any) -> Any:
        BaseRedisMixin.__redis_client__ = client
        return client

    yield _bind
    BaseRedisMixin.__redis_client__ = None
    BaseRedisMixin.__async_redis_client__ = None


@pytest.fixture
def r(redis_client: Any, bind: Any) -> Any:
    """The plain test server's client (bytes replies), bound to every model."""
    return bind(redis_client)


@pytest.fixture
def cluster(redis_cluster: Any, bind: Any) -> Any:
    """The test cluster's client, bound to every model."""
    return bind(redis_cluster)


@pytest.fixture
def arun(redis_server: Any, redis_client: Any, bind: Any) -> Iterator[Any]:
    """``arun(coro_fn)``: run ``coro_fn()`` with a fresh ``redis.asyncio`` client bound to the models."""

    def _run(fn: Any) -> Any:
        async def main() -> Any:
            client = redis.asyncio.Redis.from_url(redis_server.url)
            BaseRedisMixin.__async_redis_client__ = client
            try:
                return await fn()
            finally:
                await client.aclose()

        return asyncio.run(main())

    bind(redis_client)
    yield _run


@pytest.fixture(params=ICE_CREAMS, ids=lambda m: m.__name__)
def IceCream(request: pytest.FixtureRequest, r: Any) -> Any:
    """Each storage layer in turn, on the plain server."""
    return request.param


def ice_cream(model: Any, id: str, flavour: str, amount: int, **extra: Any) -> Any:
    """A valid ice cream of ``model`` (not stored)."""
    data = {
        "id": id,
        "flavour": flavour,
        "amount_kg": amount,
        "price": Decimal("2.50") + amount,
        "best_before": dt.datetime(2026, 1, 1) + dt.timedelta(days=amount),
        "made_on": dt.date(2025, 12, 1) + dt.timedelta(days=amount),
        "vegan": amount % 2 == 0,
        "toppings": [{"name": "nuts"}],
    }
    data.update(extra)
    return model(data)
