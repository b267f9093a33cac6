"""``__expire__``: one rule on every layer. Fractional seconds are honoured to the millisecond
(``PEXPIRE``/``PX``); values that are not a positive duration of at least 1 ms are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from schematics import types

from redis_schematics import ConfigurationError, HashRedisModel, IndexedRedisModel, SimpleRedisModel

LAYERS = [SimpleRedisModel, HashRedisModel, IndexedRedisModel]

# Where each layer keeps the TTL of the object "a" of a class named Fleeting.
TTL_KEY = {
    SimpleRedisModel: "Fleeting:a",
    HashRedisModel: "Fleeting",
    IndexedRedisModel: "{Fleeting}:obj:a",
}


def fleeting(base: type, expire: Any) -> Any:
    class Fleeting(base):  # type: ignore[valid-type,misc]
        __expire__ = expire
        __indexes__ = ("size",)
        id = types.StringType()
        size = types.IntType()

    return Fleeting


def pttl_right_after_set(r: Any, model: Any, key: str) -> int:
    """The key's TTL in ms, read in the same MULTI/EXEC as the write (no time passes in between)."""
    with model.pipeline() as p:
        model({"id": "a", "size": 1}).set(pipeline=p)
        p.redis.pttl(key)
    assert p.results is not None
    return int(p.results[-1])


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_fractional_seconds_are_honoured_to_the_millisecond(r, base):
    model = fleeting(base, 1.5)
    assert 1000 < pttl_right_after_set(r, model, TTL_KEY[base]) <= 1500


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_half_a_second_keeps_the_object_for_half_a_second(r, base):
    model = fleeting(base, 0.5)
    assert 0 < pttl_right_after_set(r, model, TTL_KEY[base]) <= 500


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_a_timedelta_works_like_its_seconds(r, base):
    model = fleeting(base, dt.timedelta(minutes=1, milliseconds=500))
    assert 60_000 < pttl_right_after_set(r, model, TTL_KEY[base]) <= 60_500


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_whole_seconds_outside_a_pipeline(r, base):
    model = fleeting(base, 3600)
    model({"id": "a", "size": 1}).set()
    assert 3_599_000 < r.pttl(TTL_KEY[base]) <= 3_600_000
    assert model.match_for_pk("a").size == 1


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize(
    "expire",
    [0, -1, 0.0004, float("nan"), float("inf"), True, "10", dt.timedelta(0)],
    ids=["zero", "negative", "below-1ms", "nan", "inf", "bool", "str", "zero-timedelta"],
)
def test_bad_values_are_refused_when_the_class_is_defined(r, base, expire):
    with pytest.raises(ConfigurationError, match=r"Fleeting\.__expire__") as caught:
        fleeting(base, expire)
    assert repr(expire) in str(caught.value)
    assert r.dbsize() == 0


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_an_expire_property_is_checked_on_each_write(r, base):
    class Fleeting(base):  # type: ignore[valid-type,misc]
        __indexes__ = ("size",)
        id = types.StringType()
        size = types.IntType()
        ttl = types.FloatType()

        @property
        def __expire__(self) -> float | None:
            return self.ttl

    Fleeting({"id": "a", "size": 1, "ttl": 2.25}).set()
    assert 2000 < r.pttl(TTL_KEY[base]) <= 2250
    with pytest.raises(ConfigurationError, match=r"Fleeting\.__expire__.*0\.0"):
        Fleeting({"id": "b", "size": 1, "ttl": 0.0}).set()
    with pytest.raises(ConfigurationError), Fleeting.pipeline() as p:
        Fleeting({"id": "c", "size": 1, "ttl": -3.0}).set(pipeline=p)
    assert [o.id for o in Fleeting.all()] == ["a"]
