"""The stock ledger: one entry per (product, warehouse), kept in Redis by redis-schematics.

Entries are indexed by sku, warehouse and quantity, so "what is running low in the north
warehouse" is answered from Redis sets and sorted sets, without scanning the ledger.
"""

from __future__ import annotations

import redis
from django.conf import settings
from schematics.types import IntType, StringType

from redis_schematics import IndexedRedisModel

WAREHOUSES = ("north", "south")


class StockEntry(IndexedRedisModel):
    __redis_client__ = None  # set by connect() once settings are loaded
    __unique_together__ = ("sku", "warehouse")
    __indexes__ = ("sku", "warehouse", "quantity")

    sku = StringType(required=True)
    warehouse = StringType(required=True, choices=list(WAREHOUSES))
    quantity = IntType(required=True, min_value=0)


def connect(client: redis.Redis | None = None) -> type[StockEntry]:
    """The ledger's model class, on ``client`` when given, else on the shop's Redis db 3."""
    if client is not None:
        StockEntry.__redis_client__ = client
    elif StockEntry.__redis_client__ is None:
        StockEntry.__redis_client__ = redis.Redis.from_url(settings.STOCK_REDIS_URL)
    return StockEntry


def fill(counts: dict[tuple[str, str], int]) -> int:
    """Write ``{(sku, warehouse): quantity}`` into the ledger in one pipeline; return the count."""
    model = connect()
    with model.pipeline() as pipe:
        for (sku, warehouse), quantity in counts.items():
            model({"sku": sku, "warehouse": warehouse, "quantity": quantity}).set(pipeline=pipe)
    return len(counts)


def levels() -> dict[str, dict[str, int]]:
    """``{sku: {warehouse: quantity}}`` for every entry in the ledger."""
    result: dict[str, dict[str, int]] = {}
    for entry in connect().all():
        result.setdefault(entry.sku, {})[entry.warehouse] = entry.quantity
    return result


def low_stock(warehouse: str, below: int) -> list[StockEntry]:
    """Entries of ``warehouse`` with fewer than ``below`` units, by sku."""
    model = connect()
    return sorted(model.filter(warehouse=warehouse, quantity__lt=below), key=lambda e: e.sku)
