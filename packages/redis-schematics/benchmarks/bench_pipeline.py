"""set() of 10k objects: one pipeline vs one round trip each. Baseline: the pipelined run.

Target: one by one is >= 5x slower.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import CLIENT, BenchHash, BenchIndexed, BenchSimple, fastest, report

N = 10_000


def raw_redis() -> None:
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

    times = fastest(2, {"pipelined": pipelined, "one by one": one_by_one})
    piped = times.pop("pipelined")
    report(f"bare SET x {N} (no schematics)", "pipelined", piped, times)


def main() -> None:
    raw_redis()
    for model in (BenchSimple, BenchHash, BenchIndexed):
        objs = [model({"id": str(i), "flavour": "mint", "amount": i}) for i in range(N)]

        def one_by_one(objs=objs):
            for obj in objs:
                obj.set()

        def pipelined(objs=objs, model=model):
            with model.pipeline() as p:
                for obj in objs:
                    obj.set(pipeline=p)

        CLIENT.flushdb()
        times = fastest(2, {"pipelined": pipelined, "one by one": one_by_one})
        piped, single = times["pipelined"], times["one by one"]
        assert len(model.all()) == N
        report(f"{model.__name__}: set() x {N}", "pipelined", piped, {"one by one": single})
        print(f"  pipeline speed-up: {single / piped:.1f}x (target >= 5x)")
    CLIENT.flushdb()


if __name__ == "__main__":
    main()
