"""The demo, run the way a newcomer runs it, tells the whole story and exits 0."""

import os
import subprocess
import sys
from pathlib import Path

SHOP = Path(__file__).resolve().parent.parent


def test_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "SHOP_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)  # the demo starts its own Redis, as on a fresh machine
    result = subprocess.run(
        [sys.executable, "manage.py", "demo"], cwd=SHOP, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        "the fruit shelf is read afresh",
        "the dairy shelf is still served from the cache",
        "the task saw the fresh row: 'order #1: 3 × MLK'",
        "the task failed visibly: DoesNotExist",
        "the branch has all 4 products",
        "newer_wins': the branch keeps 3.99",
        "a re-run adds nothing",
        "indexed filter warehouse='north', quantity < 5: MLK (2), PER (3)",
        "14 checks passed",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    assert (tmp_path / "worker.log").exists()
