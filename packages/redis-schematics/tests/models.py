"""Test models: the same ice-cream schema on every storage layer."""

from __future__ import annotations

from schematics import models, types
from schematics.types import compound

from redis_schematics import (
    HashRedisMixin,
    HashRedisModel,
    IndexedRedisModel,
    ReferenceType,
    SimpleRedisMixin,
    SimpleRedisModel,
)


class Topping(models.Model):
    name = types.StringType()


class SimpleIceCream(SimpleRedisModel):
    id = types.StringType()
    flavour = types.StringType()
    amount_kg = types.IntType()
    price = types.DecimalType()
    best_before = types.DateTimeType()
    made_on = types.DateType()
    vegan = types.BooleanType()
    toppings = compound.ListType(compound.ModelType(Topping))


class HashIceCream(HashRedisModel):
    id = types.StringType()
    flavour = types.StringType()
    amount_kg = types.IntType()
    price = types.DecimalType()
    best_before = types.DateTimeType()
    made_on = types.DateType()
    vegan = types.BooleanType()
    toppings = compound.ListType(compound.ModelType(Topping))


class IndexedIceCream(IndexedRedisModel):
    __indexes__ = ("flavour", "amount_kg", "price", "best_before", "made_on", "vegan")

    id = types.StringType()
    flavour = types.StringType()
    amount_kg = types.IntType()
    price = types.DecimalType()
    best_before = types.DateTimeType()
    made_on = types.DateType()
    vegan = types.BooleanType()
    toppings = compound.ListType(compound.ModelType(Topping))


ICE_CREAMS = [SimpleIceCream, HashIceCream, IndexedIceCream]


class Shop(SimpleRedisModel):
    id = types.StringType()
    city = types.StringType()


class Order(SimpleRedisModel):
    shop = ReferenceType(Shop)
    litres = types.IntType()


class IndexedOrder(IndexedRedisModel):
    __indexes__ = ("shop",)

    shop = ReferenceType(lambda: Shop)
    litres = types.IntType()


class Reservation(models.Model, SimpleRedisMixin):
    """No pk field: identity from __unique_together__ only."""

    __unique_together__ = ("day", "table")

    day = types.StringType(required=True)
    table = types.IntType(required=True)
    guest = types.StringType()


class LegacyReservation(models.Model, HashRedisMixin):
    """The original's spelling, __unique_args__."""

    __unique_args__ = ("day", "table")

    pk = types.StringType()
    day = types.StringType(required=True)
    table = types.StringType(required=True)


class Anonymous(SimpleRedisModel):
    note = types.StringType()


class Strict(SimpleRedisModel):
    __strict_performance__ = True

    id = types.StringType()
    flavour = types.StringType()


class StrictIndexed(IndexedRedisModel):
    __strict_performance__ = True
    __indexes__ = ("flavour",)

    id = types.StringType()
    flavour = types.StringType()
    colour = types.StringType()


class Volatile(SimpleRedisModel):
    __expire__ = 3600

    id = types.StringType()


class VolatileHash(HashRedisModel):
    __expire__ = 3600

    id = types.StringType()


class VolatileIndexed(IndexedRedisModel):
    __expire__ = 3600
    __indexes__ = ("colour", "size")

    id = types.StringType()
    colour = types.StringType()
    size = types.IntType()
