"""filter(amount__gte=x) returning 100 of 100k objects: indexed layer vs the scanning layers.

Baseline: the indexed layer. Target: the scanning layers are >= 100x slower.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import CLIENT, README_TABLE, BenchHash, BenchIndexed, BenchSimple, fastest, report

from shared_testing.bench import readme_row

N = 100_000
WANTED = 100


def populate() -> None:
    CLIENT.flushdb()
    flavours = ["vanilla", "chocolate", "mint", "lemon"]
    # Simple and hash layers: write their documented layout directly (fast to fill).
    pipe = CLIENT.pipeline(transaction=False)
    for i in range(N):
        data = {"pk": str(i), "id": str(i), "flavour": flavours[i % 4], "amount": i}
        dump = json.dumps(data)
        pipe.set(f"BenchSimple:{i}", dump)
        pipe.hset("BenchHash", f"BenchHash:{i}", dump)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    # Indexed layer: through the library (validation + atomic script per object), pipelined.
    for start in range(0, N, 5000):
        with BenchIndexed.pipeline(transaction=False) as p:
            for i in range(start, start + 5000):
                BenchIndexed({"id": str(i), "flavour": flavours[i % 4], "amount": i}).set(pipeline=p)


def main() -> None:
    populate()
    threshold = N - WANTED
    for model in (BenchIndexed, BenchSimple, BenchHash):
        assert len(model.filter(amount__gte=threshold)) == WANTED, model
    scans = fastest(
        2,
        {
            "simple": lambda: BenchSimple.filter(amount__gte=threshold),
            "hash": lambda: BenchHash.filter(amount__gte=threshold),
        },
    )
    indexed = fastest(20, {"indexed": lambda: BenchIndexed.filter(amount__gte=threshold)})["indexed"]
    simple, hashed = scans["simple"], scans["hash"]
    report(
        f"filter(amount__gte=...) -> {WANTED} of {N} objects",
        "IndexedRedisModel.filter",
        indexed,
        {"SimpleRedisModel.filter (SCAN+MGET)": simple, "HashRedisModel.filter (HGETALL)": hashed},
    )
    print(f"  indexed speed-up: {simple / indexed:.0f}x vs simple, {hashed / indexed:.0f}x vs hash")
    print("  (target >= 100x)")
    low, high = sorted((simple / indexed, hashed / indexed))
    readme_row(
        README_TABLE,
        [f"`filter(amount__gte=x)`, {WANTED} of {N // 1000}k objects", "≥ 100×",
         f"scanning layers {low:.0f}–{high:.0f}× slower than the indexed one"],
    )  # fmt: skip
    CLIENT.flushdb()


if __name__ == "__main__":
    main()
