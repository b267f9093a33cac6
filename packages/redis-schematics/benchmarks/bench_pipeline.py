"""set() of 10k objects: one pipeline vs one round trip each. Baseline: the pipelined run.

Target: one by one is >= 5x slower. Every timed run writes fresh objects into an empty db, so
both sides pay for creating the objects' keys (and, on the indexed layer, their index entries).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import CLIENT, README_TABLE, BenchHash, BenchIndexed, BenchSimple, fastest, report

from shared_testing.bench import readme_row

N = 10_000
ROUNDS = 2


def raw_redis() -> float:
    """The same writes as bare SETs, to show the Redis-side share of the cost."""
    values = [(f"raw:{i}", json.dumps({"id": str(i)})) for i in range(N)]

    def one_by_one():
        for key, value in values:
            CLIENT.set(key, value)

    def pipelined():
        with CLIENT.pipeline() as p:
            for key, value in values:
                p.set(key, value)
            p.execute()

    times = fastest(ROUNDS, {"pipelined": pipelined, "one by one": one_by_one}, setup=CLIENT.flushdb)
    piped = times.pop("pipelined")
    report(f"bare SET x {N} (no schematics, for reference)", "pipelined", piped, times)
    return times["one by one"] / piped


def main() -> None:
    bare = raw_redis()
    speedups: dict[str, float] = {}
    for model in (BenchSimple, BenchHash, BenchIndexed):
        objs: list = []

        def fresh(model=model, objs=objs):
            """An empty db and N new, never validated objects (outside the timing)."""
            CLIENT.flushdb()
            objs[:] = [model({"id": str(i), "flavour": "mint", "amount": i}) for i in range(N)]

        def one_by_one(objs=objs):
            for obj in objs:
                obj.set()

        def pipelined(model=model, objs=objs):
            with model.pipeline() as p:
                for obj in objs:
                    obj.set(pipeline=p)

        times = fastest(ROUNDS, {"pipelined": pipelined, "one by one": one_by_one}, setup=fresh)
        piped, single = times["pipelined"], times["one by one"]
        speedups[model.__name__.removeprefix("Bench").lower()] = single / piped
        assert len(model.all()) == N
        report(
            f"{model.__name__}: set() x {N}, pipelined (baseline) vs one by one",
            "pipelined",
            piped,
            {"one by one (= pipeline speed-up)": single},
            target=">= 5",
        )
    layers = ", ".join(f"{layer} {ratio:.1f}×" for layer, ratio in speedups.items())
    readme_row(
        README_TABLE,
        [
            f"{N // 1000}k `set()`: one by one vs pipelined",
            "≥ 5×",
            f"{layers}; bare redis-py `SET`: {bare:.1f}×",
        ],
    )
    CLIENT.flushdb()


if __name__ == "__main__":
    main()
