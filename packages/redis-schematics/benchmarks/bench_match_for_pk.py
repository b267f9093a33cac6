"""match_for_pk latency vs a bare GET + json.loads (baseline). Target: <= 1.5x the baseline.

Many short interleaved rounds, keeping each contender's best: on a shared machine a round that
other load hits is discarded instead of averaged in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import CLIENT, README_TABLE, BenchHash, BenchIndexed, BenchSimple, fastest, report

from shared_testing.bench import readme_row

CALLS = 250
ROUNDS = 40


def main() -> None:
    CLIENT.flushdb()
    for model in (BenchSimple, BenchHash, BenchIndexed):
        model({"id": "42", "flavour": "mint", "amount": 42}).set()

    def bare():
        for _ in range(CALLS):
            json.loads(CLIENT.get("BenchSimple:42"))

    def run(model):
        def calls():
            for _ in range(CALLS):
                model.match_for_pk("42")

        return calls

    contenders = {"baseline": bare} | {
        f"{m.__name__}.match_for_pk": run(m) for m in (BenchSimple, BenchHash, BenchIndexed)
    }
    times = {name: seconds / CALLS for name, seconds in fastest(ROUNDS, contenders).items()}
    baseline = times.pop("baseline")
    report("match_for_pk, per call", "GET + json.loads", baseline, times, target="<= 1.5")
    layers = ", ".join(
        f"{name.removeprefix('Bench').split('.')[0].lower()} {seconds / baseline:.2f}×"
        for name, seconds in times.items()
    )
    readme_row(README_TABLE, ["`match_for_pk` vs `GET` + `json.loads`", "≤ 1.5×", layers])
    CLIENT.flushdb()


if __name__ == "__main__":
    main()
