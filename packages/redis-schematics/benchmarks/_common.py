"""Shared helpers of the benchmarks: a Redis to run on, a model per layer, a timer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from schematics import types

from redis_schematics import HashRedisModel, IndexedRedisModel, SimpleRedisModel
from shared_testing.servers import get_redis_server

SERVER = get_redis_server()
CLIENT = SERVER.client()


class BenchSimple(SimpleRedisModel):
    __redis_client__ = CLIENT
    id = types.StringType()
    flavour = types.StringType()
    amount = types.IntType()


class BenchHash(HashRedisModel):
    __redis_client__ = CLIENT
    id = types.StringType()
    flavour = types.StringType()
    amount = types.IntType()


class BenchIndexed(IndexedRedisModel):
    __redis_client__ = CLIENT
    __indexes__ = ("flavour", "amount")
    id = types.StringType()
    flavour = types.StringType()
    amount = types.IntType()


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(title: str, baseline_name: str, baseline: float, rows: dict[str, float]) -> None:
    """Print each row as a ratio against the baseline measured in the same run."""
    print(f"\n{title}\n  baseline {baseline_name}: {baseline * 1e3:.3f} ms")
    for name, seconds in rows.items():
        print(f"  {name}: {seconds * 1e3:.3f} ms = {seconds / baseline:.2f}x baseline")
