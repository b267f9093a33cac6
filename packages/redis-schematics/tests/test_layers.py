"""The documented API, on every storage layer (simple, hash, indexed), against a real Redis."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from schematics.exceptions import DataError

from redis_schematics import InvalidFilter, MultipleFound, NotFound

from .conftest import ice_cream


@pytest.fixture
def stock(IceCream):
    """Five stored ice creams: amounts 0..4, odd ones vanilla, even ones chocolate."""
    objs = [ice_cream(IceCream, f"ice{i}", "vanilla" if i % 2 else "chocolate", i) for i in range(5)]
    for obj in objs:
        obj.set()
    return objs


def ids(objs):
    return sorted(obj.id for obj in objs)


def test_set_then_match_for_pk_round_trips_every_type(IceCream):
    original = ice_cream(IceCream, "vanilla", "Sweet Vanilla", 42)
    original.set()
    loaded = IceCream.match_for_pk("vanilla")
    assert loaded.to_primitive() == original.to_primitive()
    assert loaded.best_before == dt.datetime(2026, 1, 1) + dt.timedelta(days=42)
    assert loaded.price == Decimal("44.50")
    assert loaded.toppings[0].name == "nuts"
    assert loaded.pk == "vanilla"


def test_set_overwrites_the_stored_object(IceCream):
    obj = ice_cream(IceCream, "a", "vanilla", 1)
    obj.set()
    obj.flavour = "mint"
    obj.set()
    assert IceCream.match_for_pk("a").flavour == "mint"
    assert len(IceCream.all()) == 1


def test_match_for_pk_of_missing_object_raises_not_found_which_is_a_key_error(IceCream):
    with pytest.raises(NotFound):
        IceCream.match_for_pk("nope")
    with pytest.raises(KeyError):
        IceCream.match_for_pk("nope")


def test_refresh_reloads_stored_values(IceCream):
    obj = ice_cream(IceCream, "a", "vanilla", 1)
    obj.set()
    other = IceCream.match_for_pk("a")
    other.amount_kg = 99
    other.set()
    obj.refresh()
    assert obj.amount_kg == 99


def test_refresh_of_deleted_object_raises_not_found(IceCream):
    obj = ice_cream(IceCream, "a", "vanilla", 1)
    obj.set()
    obj.delete()
    with pytest.raises(NotFound):
        obj.refresh()


def test_delete_removes_only_that_object(stock, IceCream):
    stock[0].delete()
    with pytest.raises(NotFound):
        IceCream.match_for_pk("ice0")
    assert ids(IceCream.all()) == ["ice1", "ice2", "ice3", "ice4"]


def test_all_returns_every_object(stock, IceCream):
    assert ids(IceCream.all()) == ["ice0", "ice1", "ice2", "ice3", "ice4"]


def test_all_on_empty_storage(IceCream):
    assert IceCream.all() == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"flavour": "vanilla"}, ["ice1", "ice3"]),
        ({"flavour__eq": "vanilla"}, ["ice1", "ice3"]),
        ({"flavour__not": "vanilla"}, ["ice0", "ice2", "ice4"]),
        ({"amount_kg__gt": 2}, ["ice3", "ice4"]),
        ({"amount_kg__gte": 2}, ["ice2", "ice3", "ice4"]),
        ({"amount_kg__lt": 2}, ["ice0", "ice1"]),
        ({"amount_kg__lte": 2}, ["ice0", "ice1", "ice2"]),
        ({"amount_kg__in": [0, 4, 7]}, ["ice0", "ice4"]),
        ({"amount_kg__exclude": [0, 4]}, ["ice1", "ice2", "ice3"]),
        ({"flavour__in": ["vanilla", "mint"]}, ["ice1", "ice3"]),
        ({"flavour__exclude": ["vanilla"]}, ["ice0", "ice2", "ice4"]),
        ({"amount_kg__gte": 1, "amount_kg__lt": 4, "flavour": "chocolate"}, ["ice2"]),
        ({"price__gte": Decimal("5.50")}, ["ice3", "ice4"]),
        ({"best_before__lt": dt.datetime(2026, 1, 3)}, ["ice0", "ice1"]),
        ({"made_on__gte": dt.date(2025, 12, 4)}, ["ice3", "ice4"]),
        ({"vegan": True}, ["ice0", "ice2", "ice4"]),
        ({"amount_kg": "3"}, ["ice3"]),  # converted by the field's type
        ({"pk": "ice2"}, ["ice2"]),
        ({"amount_kg__gt": 10}, []),
        ({}, ["ice0", "ice1", "ice2", "ice3", "ice4"]),
    ],
)
def test_filter_lookups(stock, IceCream, filters, expected):
    assert ids(IceCream.filter(**filters)) == expected


def test_filter_on_missing_value_matches_none_and_never_raises(IceCream):
    ice_cream(IceCream, "a", None, 1).set()
    ice_cream(IceCream, "b", "mint", 2, amount_kg=None).set()
    assert ids(IceCream.filter(flavour=None)) == ["a"]
    assert ids(IceCream.filter(amount_kg__gte=0)) == ["a"]
    assert ids(IceCream.filter(amount_kg__not=1)) == ["b"]


def test_unknown_filter_field_raises_a_clear_error(stock, IceCream):
    with pytest.raises(InvalidFilter, match="has no field 'colour'"):
        IceCream.filter(colour="red")
    with pytest.raises(InvalidFilter, match="has no field 'amount_kg__between'"):
        IceCream.filter(amount_kg__between=3)
    with pytest.raises(InvalidFilter, match="colour"):
        IceCream.match_for_values(colour="red")
    with pytest.raises(InvalidFilter, match="colour"):
        IceCream.delete_filter(colour="red")


def test_filter_value_the_field_cannot_convert_raises_a_clear_error(stock, IceCream):
    with pytest.raises(InvalidFilter, match="amount_kg"):
        IceCream.filter(amount_kg__gte="lots")
    with pytest.raises(InvalidFilter, match="needs a list"):
        IceCream.filter(flavour__in="vanilla")


def test_match_for_values(stock, IceCream):
    assert IceCream.match_for_values(amount_kg__gte=4).id == "ice4"
    with pytest.raises(NotFound):
        IceCream.match_for_values(amount_kg__gte=40)
    with pytest.raises(MultipleFound):
        IceCream.match_for_values(flavour="vanilla")


def test_match_on_pk_id_or_values(stock, IceCream):
    assert IceCream.match(id="ice1").amount_kg == 1
    assert IceCream.match(pk="ice2").amount_kg == 2
    assert IceCream.match(amount_kg__gt=3).id == "ice4"
    with pytest.raises(NotFound):
        IceCream.match(id="nothing")
    with pytest.raises(MultipleFound):
        IceCream.match(flavour="chocolate")


def test_delete_all_returns_the_number_of_objects(stock, IceCream):
    assert IceCream.delete_all() == 5
    assert IceCream.all() == []
    assert IceCream.delete_all() == 0


def test_delete_filter_removes_matching_objects_and_counts_them(stock, IceCream):
    assert IceCream.delete_filter(flavour="mint") == 0
    assert IceCream.delete_filter(flavour="vanilla") == 2
    assert ids(IceCream.all()) == ["ice0", "ice2", "ice4"]
    assert IceCream.delete_filter() == 3
    assert IceCream.all() == []


def test_invalid_object_raises_schematics_error_and_writes_nothing(IceCream, r):
    obj = ice_cream(IceCream, "bad", "vanilla", 1)
    obj.amount_kg = "a lot"
    with pytest.raises(DataError, match="amount_kg"):
        obj.set()
    assert r.dbsize() == 0
    with pytest.raises(NotFound):
        IceCream.match_for_pk("bad")


def test_set_converts_assigned_values_before_storing(IceCream):
    obj = ice_cream(IceCream, "a", "vanilla", 1)
    obj.amount_kg = "7"
    obj.set()
    assert IceCream.match_for_pk("a").amount_kg == 7
    assert ids(IceCream.filter(amount_kg=7)) == ["a"]


def test_key_property(IceCream):
    obj = ice_cream(IceCream, "a", "vanilla", 1)
    obj.set()
    assert obj.key in {"SimpleIceCream:a", "HashIceCream:a", "{IndexedIceCream}:obj:a"}
