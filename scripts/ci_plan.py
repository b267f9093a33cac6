"""Plan a CI run: which packages a change touches, and the nox sessions to test them.

Usage: python scripts/ci_plan.py [--base REF | --all]

Prints two lines for $GITHUB_OUTPUT: ``packages=[...]`` (distribution names)
and ``sessions=[{"session": ..., "python": ...}, ...]`` (from ``nox -l --json``).
A change under ``packages/<dist>/`` selects that package; a change anywhere
else that the packages share (shared-testing, the noxfile, the root
pyproject, workflows, scripts, .ci) selects all of them. Documentation-only
changes at the top level (README.md, LICENSE) select none.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
TEST_TAGS = ("tests", "redis", "postgresql", "mysql", "amqp")
NOT_SHARED = {"README.md", "LICENSE", ".gitignore"}


def changed_files(base: str) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return [line for line in out.stdout.splitlines() if line]


def select(files: list[str]) -> list[str]:
    chosen: set[str] = set()
    for path in files:
        parts = path.split("/")
        if parts[0] == "packages" and len(parts) > 1:
            if parts[1] not in PACKAGES:
                raise SystemExit(f"error: {path} is under packages/ but {parts[1]!r} is not a package")
            chosen.add(parts[1])
        elif path not in NOT_SHARED:
            return list(PACKAGES)
    return sorted(chosen)


def sessions(packages: list[str]) -> list[dict[str, str]]:
    if not packages:
        return []
    out = subprocess.run(
        ["nox", "-l", "--json", "-t", *TEST_TAGS],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return [
        {"session": s["session"], "python": s["python"]}
        for s in json.loads(out.stdout)
        if set(s["tags"]) & set(packages)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--base")
    group.add_argument("--all", action="store_true")
    args = parser.parse_args()
    packages = list(PACKAGES) if args.all else select(changed_files(args.base))
    print(f"packages={json.dumps(packages)}")
    print(f"sessions={json.dumps(sessions(packages))}")


if __name__ == "__main__":
    main()
