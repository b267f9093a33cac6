"""Validation before writing: schematics' rules apply on every path, and failures write nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from schematics import types
from schematics.exceptions import DataError, ValidationError

from redis_schematics import HashRedisModel, IndexedRedisModel, SimpleRedisModel

LAYERS = [SimpleRedisModel, HashRedisModel, IndexedRedisModel]


def make(base):
    class Product(base):
        __indexes__ = ("code",)
        code = types.StringType(required=True, max_length=4)
        size = types.StringType(choices=["S", "M", "L"])
        weight = types.FloatType(min_value=0)
        made = types.DateTimeType()
        note = types.StringType(serialize_when_none=False)

    return Product


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"size": "S"}, "code"),  # required
        ({"code": "TOOLONG"}, "code"),  # max_length
        ({"code": "A", "size": "XL"}, "size"),  # choices
        ({"code": "A", "weight": -1}, "weight"),  # min_value
        ({"code": "A", "made": "yesterday"}, "made"),  # conversion
    ],
)
def test_field_rules_are_enforced_and_nothing_is_written(r, base, data, field):
    model = make(base)
    obj = model()
    for name, value in data.items():
        setattr(obj, name, value)
    with pytest.raises(DataError) as caught:
        obj.set()
    assert set(caught.value.errors) == {field}
    assert r.dbsize() == 0


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_stored_primitive_equals_schematics_own_export(r, base):
    model = make(base)
    obj = model({"code": "AB", "size": "M", "weight": "1.5", "made": "2026-01-02T03:04:05"})
    obj.set()
    expected = model(obj.to_primitive())
    expected.validate()
    assert model.match_for_pk(obj.pk).to_primitive() == expected.to_primitive()
    assert obj.weight == 1.5
    assert obj.made == dt.datetime(2026, 1, 2, 3, 4, 5)


def test_field_level_serialize_when_none_is_respected(r):
    model = make(SimpleRedisModel)
    obj = model({"code": "AB"})
    obj.set()
    assert "note" not in json.loads(r.get(f"Product:{obj.pk}"))


@pytest.mark.parametrize("base", LAYERS, ids=lambda b: b.__name__)
def test_model_level_validators_run_before_writing(r, base):
    class Booking(base):
        start = types.IntType()
        end = types.IntType()

        def validate_end(self, data, value):
            if value is not None and data.get("start") is not None and value < data["start"]:
                raise ValidationError("end before start")
            return value

    Booking({"start": 1, "end": 2}).set()
    with pytest.raises(DataError, match="end before start"):
        Booking({"start": 5, "end": 2}).set()
    assert len(Booking.all()) == 1
