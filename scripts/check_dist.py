"""Check one package's built sdist and wheel, then import the wheel in a clean venv.

Usage: python scripts/check_dist.py <distribution> <dist-folder>

Fails (exit 1, naming the problem) when the wheel carries a ``tests`` package,
lacks ``py.typed`` or a data file the package declares in
``[tool.monorepo] wheel-data`` globs, when its metadata lacks a project URL
(Homepage, Documentation, Issues, Changelog) or a Python version classifier,
when the sdist lacks README/CHANGELOG/LICENSE, or when the installed wheel
does not import with the version it was built as.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_URLS = ("Homepage", "Documentation", "Issues", "Changelog")


def main(dist: str, out: Path) -> int:
    pyproject = tomllib.loads((ROOT / "packages" / dist / "pyproject.toml").read_text())
    import_name = Path(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"][0]).name
    data_globs = pyproject.get("tool", {}).get("monorepo", {}).get("wheel-data", [])
    wheels = sorted(out.glob("*.whl"))
    sdists = sorted(out.glob("*.tar.gz"))
    problems: list[str] = []
    if len(wheels) != 1 or len(sdists) != 1:
        return fail([f"expected one wheel and one sdist in {out}, found {wheels + sdists}"])
    wheel, sdist = wheels[0], sdists[0]
    names = zipfile.ZipFile(wheel).namelist()
    if any(n.startswith("tests/") for n in names):
        problems.append("wheel carries a top-level tests package")
    if f"{import_name}/py.typed" not in names:
        problems.append(f"wheel lacks {import_name}/py.typed")
    for pattern in data_globs:
        if not fnmatch.filter(names, pattern):
            problems.append(f"wheel has no file matching {pattern!r}")
    (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = zipfile.ZipFile(wheel).read(metadata_name).decode()
    for label in REQUIRED_URLS:
        if f"Project-URL: {label}, https://" not in metadata:
            problems.append(f"wheel metadata lacks the project URL {label!r}")
    if "Classifier: Programming Language :: Python :: 3." not in metadata:
        problems.append("wheel metadata names no Python version classifier")
    with tarfile.open(sdist) as archive:
        members = [m.split("/", 1)[-1] for m in archive.getnames()]
    for required in ("README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml"):
        if required not in members:
            problems.append(f"sdist lacks {required}")
    if any(m.startswith("tests/") for m in members):
        problems.append("sdist carries tests/ (they need the unpublished shared-testing)")
    if problems:
        return fail(problems)

    with tempfile.TemporaryDirectory() as tmp:
        python = Path(tmp) / "bin" / "python"
        uv = shutil.which("uv")
        if uv:  # much faster than venv + pip; same result
            subprocess.run([uv, "venv", "-q", "--python", sys.executable, tmp], check=True)
            subprocess.run([uv, "pip", "install", "-q", "--python", str(python), str(wheel)], check=True)
        else:
            venv.create(tmp, with_pip=True)
            subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)
        code = f"import {import_name}; print({import_name}.__version__)"
        version = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, cwd=tmp)
        built = wheel.name.split("-")[1]
        if version.stdout.strip().replace("-", "") != built:
            return fail(
                [f"installed {import_name}.__version__={version.stdout.strip()} but wheel is {built}"]
            )
    print(f"{dist}: {wheel.name} and {sdist.name} OK ({len(names)} files in the wheel)")
    return 0


def fail(problems: list[str]) -> int:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
