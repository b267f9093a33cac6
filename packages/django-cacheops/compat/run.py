"""Run django-cacheops 7.2's own test suite against this package (the ``compat-django-cacheops`` session).

    python compat/run.py <django-cacheops-7.2.tar.gz> [--mode plain|prefix|insideout ...] [pytest args]

The sdist (downloaded by the nox session at run time; nothing of it lives in this repository) is
extracted into a temporary folder, and only its ``tests/`` folder is copied into a fresh working
folder (so ``import cacheops`` finds this package, never 7.2's sources that ship beside the tests).
The suite then runs in each mode of 7.2's tox file, each in its own pytest process:

* ``plain``: the settings as they are;
* ``prefix``: ``CACHEOPS_PREFIX=1`` (7.2's settings then set a ``'p:'`` prefix);
* ``insideout``: ``CACHEOPS_INSIDEOUT=1``;

followed, as in the tox file, by ``manage.py invalidate tests.post``, ``tests`` and ``all``.

Everything runs against a redis-server this script starts on a free port (``REDIS_URL`` names
another server instead: its database 13 is flushed, as 7.2's settings use that database), and on
SQLite (7.2's default). Infrastructure is adapted mechanically, and only where it names what this
package doesn't have: each change is listed in :data:`ADAPTATIONS` and :data:`DESELECTED` with
its reason, and the run fails when a listed text or test is not found (the suite changed: review
the list). A test that fails with plain Django on the Django under test (:data:`DJANGO_LIMITS`,
each checked by a probe at run time) is left out there only. Tests 7.2 marks as expected
failures that pass here are reported apart (they are fixed, not broken). Every other test must
pass; the exit status is non-zero when one fails or errors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

MODES: dict[str, dict[str, str]] = {
    "plain": {},
    "prefix": {"CACHEOPS_PREFIX": "1"},
    "insideout": {"CACHEOPS_INSIDEOUT": "1"},
}
REDIS_DB = 13  # the database 7.2's settings use


@dataclass(frozen=True)
class Adaptation:
    """Replace ``old`` by ``new`` in ``path`` (relative to the working folder); ``old`` must occur."""

    path: str
    old: str
    new: str
    reason: str


# Each entry: what is changed, and why. Nothing else of the suite is touched.
ADAPTATIONS: list[Adaptation] = [
    Adaptation(
        "tests/settings.py",
        "    'port': 6379,\n",
        "    'port': int(os.environ['CACHEOPS_COMPAT_REDIS_PORT']),\n",
        "environment: a private redis-server on a free port, never a shared 127.0.0.1:6379",
    ),
    Adaptation(
        "tests/settings.py",
        "    'host': os.getenv('REDIS_HOST') or '127.0.0.1',\n",
        "    'host': os.environ['CACHEOPS_COMPAT_REDIS_HOST'],\n",
        "environment: the private redis-server's host",
    ),
    Adaptation(
        "tests/utils.py",
        """        from funcy import empty
        transaction_states._states, self._states \\
            = empty(transaction_states._states), transaction_states._states

        invalidate_all()

    def tearDown(self):
        transaction_states._states = self._states
""",
        """        self._ignored = ignore_enclosing_transactions()
        self._ignored.__enter__()

        invalidate_all()

    def tearDown(self):
        self._ignored.__exit__(None, None, None)
""",
        "BaseTestCase empties 7.2's private transaction_states._states so that cacheops ignores the "
        "transactions TestCase wraps each test in; this package's public "
        "cacheops.transaction.ignore_enclosing_transactions() does the same",
    ),
    Adaptation(
        "tests/utils.py",
        "from cacheops.transaction import transaction_states\n",
        "from cacheops.transaction import ignore_enclosing_transactions\n",
        "the import that goes with the BaseTestCase change above",
    ),
    Adaptation(
        "tests/tests.py",
        "from cacheops.query import invalidate_m2o\n",
        "",
        "invalidate_m2o is a private helper of 7.2's query module, used only by test_430 (deselected)",
    ),
    Adaptation(
        "tests/tests.py",
        "    @unittest.expectedFailure\n    def test_348(self):\n",
        "    def test_348(self):\n",
        "test_348 (a cached get() after the related row's deletion) is an expected failure in 7.2, "
        "which serves the stale row; this package passes it, so it runs as an ordinary test",
    ),
    Adaptation(
        "tests/test_extras.py",
        "with before('redis.Redis.brpoplpush', lambda *a, **kw: locked.set()):",
        "with before('cacheops.store._locked', lambda *a, **kw: locked.set()):",
        "test_lock hooks the point where the second caller starts waiting for the dog-pile lock: "
        "7.2 waits in redis-py's BRPOPLPUSH, this package polls in cacheops.store._locked",
    ),
    Adaptation(
        "tests/test_low_level.py",
        "from cacheops.redis import redis_client\n",
        "from cacheops.redis import redis_client\nfrom compat_keys import cache_key, key_prefix\n",
        "test_ttl reads the entry's Redis key through 7.2's private QuerySet._cache_key() and "
        "._prefix: compat_keys (written by this script) gives this package's key and prefix",
    ),
    Adaptation(
        "tests/test_low_level.py",
        "redis_client.ttl(qs._cache_key())",
        "redis_client.ttl(cache_key(qs))",
        "as above",
    ),
    Adaptation(
        "tests/test_low_level.py",
        "redis_client.ttl(f'{qs._prefix}conj:",
        "redis_client.ttl(f'{key_prefix(qs)}conj:",
        "as above",
    ),
    Adaptation(
        "tests/tests_sharding.py",
        "from cacheops import cache, CacheMiss\n",
        "from cacheops import cache, CacheMiss\nfrom compat_keys import cache_key\n",
        "test_table reads the entry's Redis key through 7.2's private QuerySet._cache_key(): "
        "compat_keys gives this package's",
    ),
    Adaptation(
        "tests/tests_sharding.py",
        "Category.objects.all()._cache_key()",
        "cache_key(Category.objects.all())",
        "as above",
    ),
]

# compat_keys.py, written next to the suite: the Redis key of a fetched queryset in this package
# (what 7.2's private QuerySet._cache_key() and QuerySet._prefix give in 7.2).
COMPAT_KEYS = """\
from cacheops.keys import query_key
from cacheops.keys import queryset_prefix as _prefix


def key_prefix(qs):
    return _prefix(qs)


def cache_key(qs):
    return key_prefix(qs) + query_key(qs, "fetch")
"""

# Tests not run, with the reason: each checks 7.2's private internals, not a behaviour.
DESELECTED: dict[str, str] = {
    "tests/tests.py::IssueTests::test_430": (
        "calls 7.2's private cacheops.query.invalidate_m2o and mocks cacheops.query.invalidate_dict "
        "to inspect its arguments (the behaviour, deleting through a multi-table child's FK, is "
        "checked by test_430_no_error_raises)"
    ),
    "tests/tests.py::MultiDBInvalidationTests::test_m2m_changed_call_invalidate": (
        "mocks 7.2's private cacheops.invalidation.invalidate_dict to see which database alias the "
        "m2m_changed handler passes (the behaviour, m2m changes invalidating on the right database, "
        "is checked by this package's tests/test_invalidation.py)"
    ),
    "tests/test_extras.py::test_model_family": (
        "imports 7.2's private helper cacheops.utils.model_family (proxy and inheritance "
        "invalidation, the behaviour it serves, is checked by ProxyTests and MultitableInheritanceTests)"
    ),
}


# Tests that fail with Django itself on some versions, not because of cacheops: each is deselected
# only when its probe (run with plain Django, cacheops not even installed as an app) shows the
# limitation on the Django under test, and run otherwise.
_PROBE_SETUP = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()
"""
DJANGO_LIMITS: dict[str, tuple[str, str]] = {
    "tests/tests.py::BasicTests::test_subquery": (
        "filter(fk__in=Subquery(<queryset>.only('id'))) raises OutputFieldIsNoneError in this Django "
        "itself (Django 6.1 resolves the Subquery's output field, which a model queryset lacks)",
        _PROBE_SETUP
        + """
from django.contrib.auth.models import Group, User
from django.db.models import Subquery
from django.db.models.expressions import OutputFieldIsNoneError
try:
    User.objects.filter(groups__in=Subquery(Group.objects.filter(name="x").only("id")))
except OutputFieldIsNoneError:
    raise SystemExit(3)
""",
    ),
}


# conftest.py, written next to the suite: deselects exactly the node ids named in
# CACHEOPS_COMPAT_DESELECT (pytest's --deselect matches prefixes: test_430 would take
# test_430_no_error_raises with it), and fails when one of them no longer exists.
CONFTEST = """\
import os

import pytest


def pytest_collection_modifyitems(config, items):
    wanted = set(filter(None, os.environ.get("CACHEOPS_COMPAT_DESELECT", "").split("\\n")))
    found = {item.nodeid for item in items} & wanted
    if wanted - found:
        raise pytest.UsageError(f"no such tests to deselect: {sorted(wanted - found)}")
    dropped = [item for item in items if item.nodeid in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.nodeid not in wanted]
"""


def django_limits() -> dict[str, str]:
    """The tests of :data:`DJANGO_LIMITS` whose limitation this Django has, with the reason."""
    found = {}
    for nodeid, (reason, probe) in DJANGO_LIMITS.items():
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
        if done.returncode == 3:
            found[nodeid] = reason
        elif done.returncode:
            raise SystemExit(f"the probe for {nodeid} failed:\n{done.stderr}")
    return found


def find_sdist(path: Path) -> Path:
    """The sdist's absolute path; a relative one is looked up from the current folder, then
    from the repository's root (the nox session passes it relative to the root)."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = (base / path).resolve()
        if candidate.is_file():
            return candidate
    raise SystemExit(f"{path}: no such sdist")


def extract(sdist: Path, into: Path) -> Path:
    """Extract the sdist; return its ``tests`` folder."""
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    (root,) = [p for p in into.iterdir() if p.is_dir()]
    tests = root / "tests"
    if not (tests / "tests.py").is_file():
        raise SystemExit(f"{sdist}: no tests/tests.py inside")
    return tests


def prepare(tests: Path, work: Path) -> None:
    """Copy the suite into ``work`` and apply :data:`ADAPTATIONS`."""
    shutil.copytree(tests, work / "tests")
    for change in ADAPTATIONS:
        path = work / change.path
        text = path.read_text(encoding="utf-8")
        if text.count(change.old) != 1:
            raise SystemExit(
                f"adaptation for {change.path} no longer applies ({change.old.strip()[:60]!r} found "
                f"{text.count(change.old)} times): review compat/run.py against this sdist"
            )
        path.write_text(text.replace(change.old, change.new), encoding="utf-8")
    (work / "compat_keys.py").write_text(COMPAT_KEYS, encoding="utf-8")
    (work / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (work / "pytest.ini").write_text(
        "[pytest]\n"
        "DJANGO_SETTINGS_MODULE = tests.settings\n"
        "python_files = test*.py\n"  # 7.2's pytest.ini: tests.py, test_*.py and tests_*.py
        "addopts = --no-migrations -p no:cacheprovider\n",
        encoding="utf-8",
    )


class Redis:
    """The Redis the suite uses: started here (stopped at the end), or REDIS_URL's."""

    def __init__(self) -> None:
        url = os.environ.get("REDIS_URL")
        self.server = None
        if url:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        else:
            from shared_testing.servers import start_redis_server

            self.server = start_redis_server()
            self.host, self.port = self.server.host, self.server.port

    def flush(self) -> None:
        import redis

        redis.Redis(host=self.host, port=self.port, db=REDIS_DB).flushdb()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@dataclass
class Outcome:
    mode: str
    passed: int = 0
    skipped: int = 0
    xfailed: int = 0
    failed: list[str] | None = None
    fixed: list[str] | None = None  # 7.2 marks them expectedFailure; they pass here
    skips: list[str] | None = None
    seconds: float = 0.0


def read_report(path: Path, mode: str) -> Outcome:
    outcome = Outcome(mode, failed=[], skips=[], fixed=[])
    if not path.is_file():
        outcome.failed = ["(no report: pytest did not run)"]  # type: ignore[list-item]
        return outcome
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        failure = case.find("failure")
        error = case.find("error")
        skipped = case.find("skipped")
        if failure is not None and "Unexpected success" in f"{failure.get('message')} {failure.text}":
            outcome.fixed.append(name)  # type: ignore[union-attr]
        elif failure is not None or error is not None:
            outcome.failed.append(name)  # type: ignore[union-attr]
        elif skipped is not None:
            if skipped.get("type") == "pytest.xfail":
                outcome.xfailed += 1
            else:
                outcome.skipped += 1
                outcome.skips.append(f"{name}: {skipped.get('message', '')}")  # type: ignore[union-attr]
        else:
            outcome.passed += 1
    return outcome


def run_mode(mode: str, work: Path, redis: Redis, pytest_args: list[str], limits: dict[str, str]) -> Outcome:
    redis.flush()
    report = work / f"report-{mode}.xml"
    env = dict(os.environ)
    for name in ("CACHEOPS_PREFIX", "CACHEOPS_INSIDEOUT", "CACHEOPS_DB", "CACHEOPS_DEGRADE_ON_FAILURE"):
        env.pop(name, None)
    env.update(MODES[mode])
    env["CACHEOPS_COMPAT_REDIS_HOST"] = redis.host
    env["CACHEOPS_COMPAT_REDIS_PORT"] = str(redis.port)
    env["PYTHONPATH"] = str(work)
    command = [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", "-o", "junit_family=xunit1"]
    env["CACHEOPS_COMPAT_DESELECT"] = "\n".join([*DESELECTED, *limits])
    print(f"\n=== 7.2's suite, mode {mode}: {' '.join(command[1:])} {' '.join(pytest_args)}", flush=True)
    started = time.monotonic()
    subprocess.run([*command, *pytest_args], cwd=work, env=env, check=False)
    outcome = read_report(report, mode)
    outcome.seconds = time.monotonic() - started
    return outcome


def run_commands(work: Path, redis: Redis) -> list[str]:
    """7.2's tox file ends with ``manage.py invalidate`` of a model, an app and everything."""
    env = dict(os.environ, PYTHONPATH=str(work), DJANGO_SETTINGS_MODULE="tests.settings")
    env["CACHEOPS_COMPAT_REDIS_HOST"] = redis.host
    env["CACHEOPS_COMPAT_REDIS_PORT"] = str(redis.port)
    failed = []
    for target in ("tests.post", "tests", "all"):
        command = [sys.executable, "-m", "django", "invalidate", target]
        print(f"=== {' '.join(command[1:])}", flush=True)
        if subprocess.run(command, cwd=work, env=env, check=False).returncode:
            failed.append(f"manage.py invalidate {target}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path)
    parser.add_argument("--mode", action="append", choices=list(MODES), help="default: every mode")
    args, pytest_args = parser.parse_known_args(argv)
    modes = args.mode or list(MODES)
    redis = Redis()
    try:
        with tempfile.TemporaryDirectory(prefix="cacheops-compat-") as tmp:
            tests = extract(find_sdist(args.sdist), Path(tmp) / "sdist")
            work = Path(tmp) / "work"
            work.mkdir()
            prepare(tests, work)
            limits = django_limits()
            outcomes = [run_mode(mode, work, redis, pytest_args, limits) for mode in modes]
            command_failures = [] if pytest_args else run_commands(work, redis)
    finally:
        redis.stop()

    import django

    print(f"\n=== django-cacheops 7.2's suite against this package (Django {django.get_version()}, SQLite)")
    for change in ADAPTATIONS:
        print(f"adapted   {change.path}: {change.reason}")
    for nodeid, reason in DESELECTED.items():
        print(f"deselected {nodeid}: {reason}")
    for nodeid, reason in limits.items():
        print(f"deselected {nodeid} on Django {django.get_version()}: {reason} (checked by a probe)")
    bad = False
    for o in outcomes:
        print(
            f"{o.mode:>9}: {o.passed} passed, {len(o.failed or [])} failed, "
            f"{o.skipped} skipped by 7.2 itself, {o.xfailed} expected failures of 7.2, "
            f"{len(o.fixed or [])} of those passing here "
            f"({o.seconds:.0f}s)"
        )
        for name in o.fixed or []:
            print(f"           passes here, an expected failure in 7.2: {name}")
        for skip in o.skips or []:
            print(f"           skipped {skip}")
        for name in o.failed or []:
            print(f"           FAILED {name}")
            bad = True
    for name in command_failures:
        print(f"FAILED {name}")
        bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
