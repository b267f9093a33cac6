"""Fuzz run of the differential test (tests/test_differential.py): the state machine that compares
every cached read with the same read through ``.nocache()`` after every write, in every mode,
drawing new examples round after round until a time budget is spent. Each round has a seed of
its own, printed, so that a round can be replayed.

Run by ``nox -s bench-django-cacheops`` (every ``benchmarks/bench_*.py``) from the package folder:

    CACHEOPS_FUZZ_MINUTES=12     time budget (default 12 minutes; a round is not started when the
                                 one before it says it would not end within the budget)
    CACHEOPS_DIFF_SEED=<n>       seed of the first round (default: a new random seed); round i
                                 uses n + i: CACHEOPS_DIFF_SEED=<printed seed> replays that round
    CACHEOPS_DIFF_SCALE=1        examples per round and mode, in multiples of CI's budget
    CACHEOPS_FUZZ_TESTS=...      pytest -k expression (default: every mode)

It exits non-zero when a read differs (the program that shows it is printed), so a finding is
never silent.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def main() -> int:
    env = dict(os.environ)
    env.setdefault("CACHEOPS_DIFF_SCALE", "1")
    env.setdefault("TEST_DATABASE", "sqlite")
    env["CACHEOPS_DIFF_FUZZ"] = "1"
    budget = 60 * float(env.get("CACHEOPS_FUZZ_MINUTES", "12"))
    first_seed = int(env.get("CACHEOPS_DIFF_SEED") or random.randrange(2**32))
    selection = env.get("CACHEOPS_FUZZ_TESTS", "test_cached_reads_equal_uncached_reads")
    print(
        f"fuzz: differential test for {budget / 60:g} min, rounds of x{env['CACHEOPS_DIFF_SCALE']} CI's "
        f"examples, tests {selection!r}, first seed {first_seed}",
        flush=True,
    )
    started = time.monotonic()
    rounds = 0
    longest = 0.0
    while time.monotonic() - started + longest <= budget or rounds == 0:
        seed = first_seed + rounds
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--hypothesis-seed={seed}",
            "tests/test_differential.py",
            "-k",
            selection,
        ]
        round_started = time.monotonic()
        status = subprocess.call(command, cwd=PACKAGE, env={**env, "CACHEOPS_DIFF_SEED": str(seed)})
        took = time.monotonic() - round_started
        longest = max(longest, took)
        rounds += 1
        print(f"fuzz: round {rounds} (CACHEOPS_DIFF_SEED={seed}) took {took:.0f} s", flush=True)
        if status != 0:
            print(f"fuzz: DIFFERENCE FOUND in the round of CACHEOPS_DIFF_SEED={seed}")
            return status
    print(f"fuzz: no difference found in {rounds} rounds, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
