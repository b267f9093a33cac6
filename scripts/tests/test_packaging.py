"""Each package shows tools and people where it lives, what it is tested on, and how to install it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())


def load_noxfile():
    spec = importlib.util.spec_from_file_location("repo_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOXFILE = load_noxfile()


def project(dist: str) -> dict:
    return tomllib.loads((ROOT / "packages" / dist / "pyproject.toml").read_text())["project"]


def version(dist: str) -> str:
    init = ROOT / "packages" / dist / "src" / NOXFILE.PACKAGES[dist]["import"] / "__init__.py"
    return re.search(r'^__version__ = "([^"]+)"', init.read_text(), re.M)[1]


@pytest.mark.parametrize("dist", PACKAGES)
def test_project_urls(dist):
    urls = project(dist)["urls"]
    assert {"Homepage", "Documentation", "Issues", "Changelog", "Source"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Changelog"].endswith(f"packages/{dist}/CHANGELOG.md")
    assert urls["Documentation"].endswith(f"packages/{dist}/README.md")


@pytest.mark.parametrize("dist", PACKAGES)
def test_classifiers_name_exactly_the_tested_python_and_django_versions(dist):
    classifiers = set(project(dist)["classifiers"])
    pythons = {
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert pythons == set(NOXFILE.PYTHONS)
    assert project(dist)["requires-python"] == f">={NOXFILE.PYTHONS[0]}"
    djangos = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Framework :: Django :: \d+\.\d+", c)
    }
    assert djangos == (set(NOXFILE.DJANGO_PYTHONS) if NOXFILE.PACKAGES[dist]["django"] else set())


@pytest.mark.parametrize("dist", PACKAGES)
def test_readme_installs_this_package_and_names_the_first_release(dist):
    readme = (ROOT / "packages" / dist / "README.md").read_text()
    assert f'pip install "{dist} @ git+https://' in readme
    assert f'#subdirectory=packages/{dist}"' in readme
    current = version(dist)
    assert current.endswith(".dev0")
    first = current.removesuffix(".dev0")
    assert f"pre-release of {dist} {first}" in readme
    assert f"{dist} {first}" in (ROOT / "README.md").read_text()
