"""Numbers a range index cannot hold (NaN, ±inf, signaling NaN, beyond a double) are refused with
``DataError`` before anything is written; the save scripts check every argument before their
first write; a pipeline's batch is all or nothing; bad filter values raise ``InvalidFilter``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import redis
from schematics import types
from schematics.exceptions import DataError

from redis_schematics import IndexedRedisModel, InvalidFilter
from redis_schematics.scripts import SAVE, SAVE_MANY

from .conftest import ice_cream
from .models import HashIceCream, IndexedIceCream, SimpleIceCream


class Gauge(IndexedRedisModel):
    __indexes__ = ("reading", "amount", "price")
    id = types.StringType()
    reading = types.FloatType()
    amount = types.IntType()
    price = types.DecimalType()


def snapshot(r: Any) -> dict[bytes, Any]:
    """Every key of the test db with its type and content."""
    out: dict[bytes, Any] = {}
    for key in sorted(r.keys("*")):
        kind = r.type(key)
        if kind == b"hash":
            out[key] = r.hgetall(key)
        elif kind == b"set":
            out[key] = r.smembers(key)
        elif kind == b"zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        else:
            out[key] = (kind, r.get(key))
    return out


BAD_VALUES = [
    ("reading", float("nan")),
    ("reading", float("inf")),
    ("reading", float("-inf")),
    ("price", Decimal("NaN")),
    ("price", Decimal("sNaN")),
    ("price", Decimal("Infinity")),
    ("price", Decimal("-1e400")),
    ("amount", 10**400),
    ("amount", -(10**309)),
]
BAD_IDS = [
    "nan",
    "inf",
    "-inf",
    "decimal-nan",
    "decimal-snan",
    "decimal-inf",
    "decimal-1e400",
    "10**400",
    "-10**309",
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=BAD_IDS)
def test_a_number_no_range_index_holds_is_refused_and_nothing_changes(r, field, value):
    Gauge({"id": "g", "reading": 1.5, "amount": 3, "price": Decimal("2.5")}).set()
    before = snapshot(r)
    bad = Gauge({"id": "g", "reading": 2.0, "amount": 4, "price": Decimal("1")})
    setattr(bad, field, value)
    with pytest.raises(DataError) as caught:
        bad.set()
    assert set(caught.value.errors) == {field}
    assert "finite" in str(caught.value)
    assert snapshot(r) == before
    assert [g.amount for g in Gauge.filter(reading__gte=1.5)] == [3]


def test_a_bad_number_in_a_pipeline_writes_nothing_at_all(r):
    with pytest.raises(DataError), Gauge.pipeline() as p:
        for i in range(600):  # two batched script calls' worth
            reading = float("nan") if i == 550 else float(i)
            Gauge({"id": str(i), "reading": reading, "amount": i}).set(pipeline=p)
    assert r.dbsize() == 0


def test_a_bare_pipeline_gets_nothing_queued_for_a_bad_number(r):
    pipe = r.pipeline()
    Gauge({"id": "a", "reading": 1.0}).set(pipeline=pipe)
    with pytest.raises(DataError):
        Gauge({"id": "b", "reading": float("nan")}).set(pipeline=pipe)
    assert len(pipe.command_stack) == 1
    pipe.execute()
    assert [g.id for g in Gauge.all()] == ["a"]


def test_an_integer_too_big_for_any_layer_is_a_data_error(IceCream, r):
    bad = ice_cream(IceCream, "a", "mint", 1)
    bad.amount_kg = float("inf")  # int(inf) raises OverflowError inside schematics
    with pytest.raises(DataError) as caught:
        bad.set()
    assert set(caught.value.errors) == {"amount_kg"}
    assert r.dbsize() == 0


# ---------------------------------------------------------------- the scripts check first


def save_args(pk: str, score: str, ttl: str = "0") -> tuple[str, ...]:
    entries = json.dumps([["z", "{Gauge}:range:reading", score]])
    return (ttl, entries, "", "pk", json.dumps(pk), "reading", "1.0")


@pytest.mark.parametrize(
    ("score", "ttl"),
    [("nan", "0"), ("inf", "0"), ("-inf", "0"), ("1e400", "0"), ("x", "0"), ("1", "-5"), ("1", "1.5")],
)
def test_the_save_script_refuses_bad_arguments_before_writing(r, score, ttl):
    Gauge({"id": "g", "reading": 1.5, "amount": 3}).set()
    before = snapshot(r)
    keys = ("{Gauge}:obj:g", "{Gauge}:members", "{Gauge}:entries")
    with pytest.raises(redis.ResponseError, match="redis-schematics: object g"):
        r.eval(SAVE.source, 3, *keys, *save_args("g", score, ttl))
    assert snapshot(r) == before


def test_the_batched_save_script_is_all_or_nothing(r):
    Gauge({"id": "g", "reading": 1.5, "amount": 3}).set()
    before = snapshot(r)
    good = ("new", "0", json.dumps([["z", "{Gauge}:range:reading", "2.0"]]), "pk\x1freading", '"new"\x1f2.0')
    bad = ("g", "0", json.dumps([["z", "{Gauge}:range:reading", "nan"]]), "pk\x1freading", '"g"\x1f2.0')
    with pytest.raises(redis.ResponseError, match="not a finite number"):
        r.eval(SAVE_MANY.source, 2, "{Gauge}:members", "{Gauge}:entries", *good, *bad)
    assert snapshot(r) == before
    unpaired = ("new", "0", "[]", "pk\x1freading", '"new"')
    with pytest.raises(redis.ResponseError, match="do not pair up"):
        r.eval(SAVE_MANY.source, 2, "{Gauge}:members", "{Gauge}:entries", *good, *unpaired)
    assert snapshot(r) == before


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "filters",
    [{"amount_kg__gte": 10**400}, {"amount_kg__lt": -(10**400)}, {"amount_kg__in": [1, 10**400]}],
    ids=["gte", "lt", "in"],
)
def test_a_filter_value_beyond_a_double_on_a_range_index_is_invalid(r, filters):
    ice_cream(IndexedIceCream, "a", "mint", 1).set()
    with pytest.raises(InvalidFilter, match="amount_kg"):
        IndexedIceCream.filter(**filters)


@pytest.mark.parametrize(
    "filters",
    [
        {"price__gte": Decimal("NaN")},
        {"price": Decimal("sNaN")},
        {"price__in": [Decimal("1"), Decimal("NaN")]},
        {"amount_kg__gte": float("nan")},
        {"amount_kg__lte": float("inf")},
    ],
    ids=["decimal-nan", "decimal-snan", "in-nan", "float-nan", "int-inf"],
)
def test_nan_filter_values_are_invalid_on_every_layer(IceCream, r, filters):
    ice_cream(IceCream, "a", "mint", 1).set()
    with pytest.raises(InvalidFilter):
        IceCream.filter(**filters)


@pytest.mark.parametrize("model", [SimpleIceCream, HashIceCream], ids=lambda m: m.__name__)
def test_stored_decimal_nan_on_scanning_layers_never_matches_instead_of_crashing(r, model):
    obj = ice_cream(model, "a", "mint", 1)
    obj.price = Decimal("NaN")
    obj.set()
    assert model.filter(price__gte=Decimal("1")) == []
    assert [o.id for o in model.filter(price__not=Decimal("1"))] == ["a"]
