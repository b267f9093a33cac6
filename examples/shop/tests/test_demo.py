"""The demo, run the way a newcomer runs it, tells the whole story and exits 0."""

import os
import re
import subprocess
import sys
from pathlib import Path

from shop.runtime import data_dir_for

SHOP = Path(__file__).resolve().parent.parent


def run_demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOP_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)  # the demo starts its own Redis, as on a fresh machine
    return subprocess.run(
        [sys.executable, "manage.py", "demo"], cwd=SHOP, env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_runs_end_to_end_and_proves_each_claim(tmp_path):
    result = run_demo(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        # where things live
        f"data folder {tmp_path}:",
        ", started by the harness);\n   it keeps nothing on disk and stops when the demo ends",
        # cacheops: every read accounted for, no query on hits (CaptureQueriesContext)
        "✓ reading both shelves again: 2 cache hits, no query",
        "✓ … the fruit shelf is read afresh: 1 miss, 1 query (its cache was gone)",
        "✓ … the dairy shelf is still served from the cache: 1 hit, no query",
        "✓ the milk page again: the same 2 reads are hits, no query",
        "✓ cache reads in this chapter: 7 hits, 6 misses, each listed above",
        # cereal: the worker's own words and where they are
        "the task saw the fresh row: 'order #1: 3 × MLK'",
        "the task failed visibly: DoesNotExist",
        f"the worker's log ({tmp_path / 'worker.log'}) says:",
        "✓ the message names the model and the primary key that was missing",
        # synchro: the command's summary indented like every other line, each count explained
        "\n   push: 7 added, 2 changed, 0 deleted, 0 conflicts, 0 failed\n",
        "changed on the branch: product: Apple (APL); order: order #1: 3 × MLK (confirmed)",
        "newer_wins': the branch keeps 3.99",
        "a re-run adds nothing",
        # schematics: the round trip is counted on the connection
        "✓ all 8 entries travelled in one round trip, one MULTI/EXEC",
        "indexed filter warehouse='north', quantity < 5: MLK (2), PER (3)",
        "24 checks passed",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    # every line of the report is indented under its chapter heading
    body = [line for line in out.splitlines() if line and not line.startswith("== ")]
    assert all(line.startswith("   ") for line in body), [line for line in body if not line.startswith("   ")]
    message = re.search(r"says:\n     (.*)\n", out)[1]
    assert message in (tmp_path / "worker.log").read_text()  # quoted from the log itself


def test_demo_and_runshop_keep_their_data_in_separate_folders():
    assert data_dir_for("demo") != data_dir_for("runshop")
    assert data_dir_for("demo").name == "demo" and data_dir_for("runshop").name == "shop"
    assert data_dir_for("migrate") == data_dir_for("runshop")  # set-up commands act on the shop
