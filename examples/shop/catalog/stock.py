"""The stock ledger: one entry per (product, warehouse), kept in Redis by redis-schematics.

Entries are indexed by sku, warehouse and quantity, so "what is running low in the north
warehouse" is answered from Redis sets and sorted sets, without scanning the ledger.
"""

import redis
from django.conf import settings
from schematics.types import IntType, StringType

from redis_schematics import IndexedRedisModel


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.STOCK_REDIS_URL)


class StockEntry(IndexedRedisModel):
    __redis_client__ = None  # set by connect() once settings are loaded
    __unique_together__ = ("sku", "warehouse")
    __indexes__ = ("sku", "warehouse", "quantity")

    sku = StringType(required=True)
    warehouse = StringType(required=True, choices=["north", "south"])
    quantity = IntType(required=True, min_value=0)


def connect() -> type[StockEntry]:
    """Point the ledger at the shop's Redis and return the model class."""
    StockEntry.__redis_client__ = _client()
    return StockEntry


def low_stock(warehouse: str, below: int) -> list[StockEntry]:
    """Entries of ``warehouse`` with fewer than ``below`` units, by sku."""
    model = connect()
    return sorted(model.filter(warehouse=warehouse, quantity__lt=below), key=lambda e: e.sku)
