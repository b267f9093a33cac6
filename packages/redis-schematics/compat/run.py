"""Run redis-schematics 0.3.1's integration tests against this package (``nox -s compat-redis-schematics``).

Usage: ``python compat/run.py <redis_schematics-0.3.1.tar.gz> [pytest arguments]``

The sdist is downloaded by the nox session at run time; nothing of it is kept in this repository.
This script extracts it into a temporary folder, copies its ``tests/`` folder (and only that: the
original package must not be importable) next to a minimal pytest configuration, adapts the test
infrastructure mechanically (below), starts a private ``redis-server`` and runs the suite against
the installed ``redis_schematics``. It prints a summary and exits non-zero when a test fails.

Adaptations (infrastructure only, never an assertion):

* ``tests/test_integration.py`` builds its client as ``StrictRedis(host="localhost", port=6379,
  db=4)``: the host and port are replaced by those of the private server (same db).

Tests deselected or rewritten because they name the original's private internals: none.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from shared_testing.servers import start_redis_server

ORIGINAL = "redis_schematics-0.3.1"
#: test node id -> why it is deselected (it names the original's private internals).
DESELECTED: dict[str, str] = {}
CLIENT = re.compile(r'StrictRedis\(host="localhost", port=6379, db=(\d+)\)')


def locate(given: str) -> Path:
    """The sdist's path: as given (from the current folder), else from the repository root (the
    nox session names it relative to the root, then runs this script from the package folder)."""
    path = Path(given)
    if not path.is_absolute() and not path.exists():
        path = Path(__file__).resolve().parents[3] / path
    if not path.is_file():
        raise SystemExit(f"compat: no sdist at {given}")
    return path.resolve()


def extract(sdist: Path, into: Path) -> Path:
    """Unpack the sdist; return its top folder."""
    with tarfile.open(sdist) as archive:
        if sys.version_info >= (3, 12):
            archive.extractall(into, filter="data")
        else:  # pragma: no cover - the session runs the newest Python
            archive.extractall(into)
    (top,) = [path for path in into.iterdir() if path.is_dir()]
    return top


def adapt(tests: Path, host: str, port: int) -> list[str]:
    """Point the suite's client at the private server; return what was changed."""
    changes = []
    module = tests / "test_integration.py"
    text = module.read_text(encoding="utf-8")
    adapted, count = CLIENT.subn(lambda m: f'StrictRedis(host="{host}", port={port}, db={m.group(1)})', text)
    if count != 1:
        raise SystemExit(f"compat: expected one client definition in {module.name}, found {count}")
    module.write_text(adapted, encoding="utf-8")
    changes.append(f"{module.name}: client -> {host}:{port} (was localhost:6379)")
    return changes


def summarize(junit: Path) -> tuple[int, int, int, int]:
    """(passed, failed, errors, skipped) from pytest's JUnit XML report."""
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = failures = errors = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failures - errors - skipped, failures, errors, skipped


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    sdist, pytest_args = locate(argv[0]), argv[1:]
    import redis_schematics

    print(f"compat: {ORIGINAL} tests against redis_schematics {redis_schematics.__version__} "
          f"from {Path(redis_schematics.__file__).parent}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="compat-redis-schematics-") as tmp:
        work = Path(tmp)
        top = extract(sdist, work / "sdist")
        run_dir = work / "run"
        shutil.copytree(top / "tests", run_dir / "tests")
        (run_dir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        server = start_redis_server()
        try:
            for change in adapt(run_dir / "tests", server.host, server.port):
                print(f"compat: adapted {change}")
            for node, reason in DESELECTED.items():
                print(f"compat: deselected {node}: {reason}")
            junit = work / "junit.xml"
            command = [
                sys.executable, "-m", "pytest", "tests",
                "-c", str(run_dir / "pytest.ini"), "--rootdir", str(run_dir),
                "-p", "no:cacheprovider", "-ra", f"--junitxml={junit}",
                *(f"--deselect=tests/{node}" for node in DESELECTED),
                *pytest_args,
            ]  # fmt: skip
            code = subprocess.call(command, cwd=run_dir)
            passed, failed, errors, skipped = summarize(junit) if junit.exists() else (0, 0, 0, 0)
        finally:
            server.stop()
    print(f"compat: {ORIGINAL}: {passed} passed, {failed} failed, {errors} errors, {skipped} skipped, "
          f"{len(DESELECTED)} deselected")  # fmt: skip
    if code == 0 and (failed or errors or not passed):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
