"""match_for_pk latency vs a bare GET + json.loads (baseline). Target: <= 1.5x the baseline.

Many short interleaved rounds, keeping each contender's best: on a shared machine a round that
other load hits is discarded instead of averaged in.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import CLIENT, BenchHash, BenchIndexed, BenchSimple, fastest, report

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
    CLIENT.flushdb()


if __name__ == "__main__":
    main()
