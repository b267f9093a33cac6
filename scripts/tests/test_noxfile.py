"""What the noxfile promises a new user: loud failures, no downloads, sessions that say what they run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
REDIS_PACKAGES = ["django-cacheops", "django-cereal", "redis-schematics"]


def nox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def recording_uv(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `uv` records its arguments (then runs the real one, if any); no CI."""
    log = tmp_path / "uv-calls"
    real = shutil.which("uv")
    script = tmp_path / "bin" / "uv"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\n' + (f'exec {real} "$@"\n' if real else "exit 1\n"))
    script.chmod(0o755)
    env = {
        k: v for k, v in os.environ.items() if k not in {"CI", "UV_PYTHON_DOWNLOADS", "NOX_DOWNLOAD_PYTHON"}
    }
    env["PATH"] = f"{script.parent}{os.pathsep}{env['PATH']}"
    return env, log


@pytest.mark.parametrize("command", [["-s", "demo"], ["-t", "ci"]], ids=["nox -s demo", "nox -t ci"])
def test_a_missing_python_fails_the_readme_commands_with_a_hint_and_is_never_downloaded(
    command, recording_uv
):
    env, uv_calls = recording_uv
    # 3.99 stands for any Python that is not installed; without CI set, as on a user's machine.
    result = nox(*command, "--force-python", "3.99", env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Python interpreter 3.99 not found" in output
    assert "To get Python 3.99: `pyenv install 3.99`, then make every version visible" in output
    assert "export PYENV_VERSION=" in output and "nox never downloads an interpreter" in output
    assert "skipped" not in output
    calls = uv_calls.read_text() if uv_calls.exists() else ""
    assert "python install" not in calls, calls  # nox's download_python=auto would ask uv for one


def listing(*args: str) -> dict[str, str]:
    """Session name -> description, from `nox -l` (whose JSON form lists selected sessions only)."""
    result = nox("-l", *args)
    assert result.returncode == 0, result.stderr
    sessions = {}
    for line in result.stdout.splitlines():
        if line[:2] in ("* ", "- "):
            name_tags, _, description = line[2:].partition(" -> ")
            sessions[name_tags.split(" [")[0]] = description
    return sessions


def test_every_session_says_what_it_runs():
    described = listing()
    assert all(described.values()), [name for name, text in described.items() if not text]
    for dist in PACKAGES:
        cell = next(
            text for name, text in described.items() if name.startswith(f"{dist}(") or name == f"{dist}-3.13"
        )
        assert cell.startswith(f"pytest packages/{dist}/tests: "), cell
        assert described[f"build-{dist}"].startswith("uv build: ")
        assert "typing_example" in described[f"typecheck-{dist}"]
        assert described[f"bench-{dist}"].startswith(f"python packages/{dist}/benchmarks/bench_*.py")
    for dist in REDIS_PACKAGES:
        assert "Redis 6.2, the oldest supported" in described[f"{dist}-redis6.2"]
        assert "the machine's own redis-server" in described[f"{dist}-redis-system"]
    assert "no Redis" in described["django-synchro(python='3.13', django='6.1')"]


def test_ci_runs_each_redis_package_on_both_pinned_servers_and_every_package_on_its_oldest_cell():
    ci = {s["session"] for s in json.loads(nox("-l", "--json", "-t", "ci").stdout)}
    assert len(ci) > 20
    for dist in REDIS_PACKAGES:
        assert {f"{dist}-redis6.2", f"{dist}-redis-system"} <= ci
    for dist in PACKAGES:
        assert {f"build-{dist}", f"typecheck-{dist}"} <= ci
        assert any(name.startswith(dist) and ("3.10" in name) for name in ci), dist
    assert {"demo_tests", "shared_testing", "lint", "repo"} <= ci
    assert "shop" not in ci and "demo" not in ci  # the shop serves until stopped; the demo runs in demo_tests


def test_uv_lock_is_ignored_not_committed():
    assert subprocess.run(["git", "check-ignore", "-q", "uv.lock"], cwd=ROOT).returncode == 0
    tracked = subprocess.run(["git", "ls-files", "uv.lock"], cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked == ""
