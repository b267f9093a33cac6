"""ReferenceType: a field pointing at another stored model, loaded on access."""

from __future__ import annotations

import json

import pytest
from schematics.exceptions import DataError

from redis_schematics import NotFound, Reference

from .models import IndexedOrder, Order, Shop


@pytest.fixture
def shop(r):
    shop = Shop({"id": "s1", "city": "Lisbon"})
    shop.set()
    return shop


def test_reference_is_stored_as_the_target_pk(r, shop):
    Order({"pk": "o1", "shop": shop, "litres": 3}).set()
    assert json.loads(r.get("Order:o1"))["shop"] == "s1"


def test_reference_loads_the_target_on_first_access(r, shop):
    Order({"pk": "o1", "shop": shop, "litres": 3}).set()
    order = Order.match_for_pk("o1")
    assert isinstance(order.shop, Reference)
    assert order.shop.pk == "s1"
    assert not order.shop.loaded
    shop.city = "Porto"
    shop.set()
    assert order.shop.city == "Porto"  # read now, from Redis
    assert order.shop.loaded
    assert order.shop.load().id == "s1"


def test_reference_accepts_a_pk_and_filters_by_object_or_pk(r, shop):
    Order({"pk": "o1", "shop": "s1", "litres": 3}).set()
    Order({"pk": "o2", "shop": "s2", "litres": 4}).set()
    assert [o.pk for o in Order.filter(shop=shop)] == ["o1"]
    assert [o.pk for o in Order.filter(shop="s2")] == ["o2"]


def test_indexed_reference_field(r, shop):
    IndexedOrder({"pk": "o1", "shop": shop, "litres": 3}).set()
    IndexedOrder({"pk": "o2", "shop": "other", "litres": 4}).set()
    assert [o.pk for o in IndexedOrder.filter(shop=shop)] == ["o1"]
    assert IndexedOrder.match(shop="s1").shop.city == "Lisbon"


def test_dangling_reference_raises_not_found_on_access(r):
    Order({"pk": "o1", "shop": "gone", "litres": 3}).set()
    with pytest.raises(NotFound):
        _ = Order.match_for_pk("o1").shop.city


def test_unsaved_target_is_a_validation_error(r):
    with pytest.raises(DataError, match="set\\(\\) it first"):
        Order({"pk": "o1", "shop": Shop({"city": "Faro"}), "litres": 3}).set()
    assert r.dbsize() == 0


def test_wrong_value_type_is_a_validation_error(r):
    order = Order({"pk": "o1", "litres": 3})
    order.shop = 3.5
    with pytest.raises(DataError, match="expected a Shop"):
        order.set()
