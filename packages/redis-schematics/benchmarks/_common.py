"""Shared helpers of the benchmarks: a Redis to run on, a model per layer, a timer."""

from __future__ import annotations

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


def fastest(
    rounds: int, contenders: dict[str, Callable[[], object]], setup: Callable[[], object] | None = None
) -> dict[str, float]:
    """Best wall time of each contender, in seconds, over ``rounds`` interleaved rounds.

    Interleaving and keeping the minimum make the ratios robust to other load on the machine.
    ``setup`` runs before every timed call, outside the timing (e.g. to start from an empty db).
    """
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, fn in contenders.items():
            if setup is not None:
                setup()
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(
    title: str, baseline_name: str, baseline: float, rows: dict[str, float], target: str | None = None
) -> None:
    """Print each row as a ratio against the baseline measured in the same run, with the target
    (e.g. ``"<= 1.5"``) and whether the ratio meets it."""
    print(f"\n{title}\n  baseline {baseline_name}: {baseline * 1e3:.3f} ms")
    for name, seconds in rows.items():
        ratio = seconds / baseline
        verdict = ""
        if target is not None:
            op, bound = target.split()
            met = ratio <= float(bound) if op == "<=" else ratio >= float(bound)
            verdict = f"   target {target}x: {'met' if met else 'MISSED'}"
        print(f"  {name}: {seconds * 1e3:.3f} ms = {ratio:.2f}x baseline{verdict}")


# The README's table (Benchmarks and performance notes), filled by each script with this run's figures.
README_TABLE = ("Benchmark", "Target", "Result")
