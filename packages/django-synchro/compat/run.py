"""Run django-synchro 0.7's own test suite against this package (the ``compat-django-synchro`` session).

Usage::

    python compat/run.py <django-synchro-0.7.tar.gz> [test labels, e.g. synchro.tests.M2MSynchroTests]

The sdist is extracted into a temporary folder. Its ``synchro/tests.py`` and
``synchro/test_urls.py`` are Python 2 / Django 1.x era code; they are adapted
mechanically (the list below, every entry with its reason), written to a temporary
overlay folder and loaded as ``synchro.tests`` and ``synchro.test_urls`` of the
*installed* package, so the test models belong to the ``synchro`` app as they did in
0.7. The settings are the ones of 0.7's ``runtests.py`` (read from the sdist), adapted
to current Django. The suite runs twice, with ``USE_TZ = False`` and ``USE_TZ = True``,
each in a fresh process. The exit status is non-zero when a test fails, errs or is
skipped, or when fewer tests ran than the suite holds.

Nothing of the original is copied into this repository.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass

EXPECTED_TESTS = 33
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@dataclass(frozen=True)
class Adaptation:
    """A textual replacement made in one of the original's files, and why."""

    file: str
    old: str
    new: str
    reason: str
    regex: bool = False


# Infrastructure only: Python 2 -> 3 and Django 1.x -> 5.2/6.x spellings. No assertion changes.
ADAPTATIONS = [
    Adaptation(
        "tests.py",
        "from django.core.urlresolvers import reverse",
        "from django.urls import reverse",
        "django.core.urlresolvers became django.urls in Django 2.0",
    ),
    Adaptation(
        "tests.py",
        "from models import ChangeLog",
        "from synchro.models import ChangeLog",
        "Python 2 implicit relative import",
    ),
    Adaptation(
        "tests.py",
        "import settings as synchro_settings",
        "from synchro import settings as synchro_settings",
        "Python 2 implicit relative import",
    ),
    Adaptation(
        "tests.py",
        "from signals import DisableSynchroLog, disable_synchro_log",
        "from synchro.core import DisableSynchroLog, disable_synchro_log",
        "Python 2 implicit relative import of 0.7's private module synchro.signals; "
        "0.7's README imports these names from synchro.core, which is where they live here",
    ),
    Adaptation(
        "tests.py",
        "from utility import NaturalManager, reset_synchro, NaturalKeyModel",
        "from synchro.core import NaturalManager, reset_synchro, NaturalKeyModel",
        "Python 2 implicit relative import of 0.7's private module synchro.utility; "
        "0.7's README imports these names from synchro.core, which is where they live here",
    ),
    Adaptation(
        "tests.py",
        "import datetime\n",
        "import datetime\nfrom importlib import reload\n",
        "reload() is no longer a builtin in Python 3",
    ),
    Adaptation("tests.py", ".assertEquals(", ".assertEqual(", "alias removed in Python 3.12"),
    Adaptation("tests.py", ".assertNotEquals(", ".assertNotEqual(", "alias removed in Python 3.12"),
    Adaptation("tests.py", "force_unicode", "force_str", "force_unicode was removed in Django 2.0"),
    Adaptation(
        "tests.py",
        r"(models\.ForeignKey\([^)]*)\)",
        r"\1, on_delete=models.CASCADE)",
        "on_delete is required since Django 2.0 (CASCADE was the implicit default)",
        regex=True,
    ),
    Adaptation("tests.py", "multi_db = True", "databases = '__all__'", "multi_db was removed in Django 3.1"),
    Adaptation(
        "tests.py",
        "response._headers['location'][1]",
        "response['location']",
        "HttpResponse._headers was removed in Django 3.2",
    ),
    Adaptation(
        "tests.py", "response._headers", "response.headers", "HttpResponse._headers was removed in Django 3.2"
    ),
    Adaptation(
        "tests.py",
        "reverse('synchro')",
        "reverse('synchro:synchro')",
        "test_admin: synchro.urls declares app_name 'synchro' here, so the view is reversed in that "
        "namespace (0.7's README already told projects to include it as namespace 'synchro')",
    ),
    Adaptation(
        "test_urls.py",
        "from django.conf.urls import url, include",
        "from django.urls import include, re_path as url",
        "django.conf.urls.url was removed in Django 4.0",
    ),
    Adaptation(
        "test_urls.py",
        "include(admin.site.urls)",
        "admin.site.urls",
        "include() of admin.site.urls is an error since Django 2.0",
    ),
]

# Tests adapted or deselected because they name 0.7's private internals (reason each).
ADAPTED_TESTS = {
    "synchro.tests.SimpleSynchroTests.test_admin": "reverses the view in the 'synchro' namespace (see above)",
}
DESELECTED_TESTS: dict[str, str] = {}


def adapt(name: str, text: str) -> str:
    for item in ADAPTATIONS:
        if item.file != name:
            continue
        if item.regex:
            text, count = re.subn(item.old, item.new, text)
        else:
            count = text.count(item.old)
            text = text.replace(item.old, item.new)
        if not count:
            raise SystemExit(f"compat: adaptation no longer applies to {name}: {item.old!r}")
    return text


def runtests_settings(source: str) -> dict:
    """The keyword arguments of ``settings.configure(...)`` in 0.7's runtests.py, as literals."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "configure"
        ):
            return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    raise SystemExit("compat: runtests.py has no settings.configure(...) call")


def modern_settings(original: dict, use_tz: bool) -> dict:
    """0.7's test settings with the names current Django uses (infrastructure only)."""
    config = dict(original)
    config["MIDDLEWARE"] = list(config.pop("MIDDLEWARE_CLASSES", ()))  # renamed in Django 1.10
    apps = list(config["INSTALLED_APPS"])
    if "django.contrib.messages" not in apps:  # the admin requires it since Django 1.x
        apps.append("django.contrib.messages")
    config["INSTALLED_APPS"] = apps
    config.update(
        ROOT_URLCONF="synchro.test_urls",  # runtests.py left it out only for Django 1.11's sake
        SECRET_KEY="compat",  # required since Django 1.5 once sessions sign anything
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",  # the pk type 0.7's models had
        # 0.7 had no migrations: its test models (in synchro/tests.py) got tables with syncdb.
        MIGRATION_MODULES={"synchro": None},
        USE_TZ=use_tz,
    )
    return config


def child(config_path: str) -> int:
    """Run the suite in this process with the settings in ``config_path``; print a JSON result line."""
    with open(config_path) as handle:
        job = json.load(handle)
    import django
    from django.conf import settings

    settings.configure(**job["settings"])
    import synchro

    synchro.__path__.append(job["overlay"])  # 0.7's tests.py becomes synchro.tests
    django.setup()
    from django.test.runner import DiscoverRunner

    class Runner(DiscoverRunner):
        def run_suite(self, suite, **kwargs):
            self.result = super().run_suite(suite, **kwargs)
            return self.result

    runner = Runner(verbosity=2, interactive=False)
    runner.run_tests(job["labels"])
    result = runner.result
    outcome = {
        "ran": result.testsRun,
        "failures": [test.id() for test, _ in result.failures],
        "errors": [test.id() for test, _ in result.errors],
        "skipped": [test.id() for test, _ in result.skipped],
    }
    print("COMPAT-RESULT " + json.dumps(outcome), flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--child":
        return child(argv[1])
    if not argv:
        print(__doc__)
        return 2
    sdist, labels = argv[0], argv[1:]
    if not os.path.exists(sdist):  # nox hands over a path relative to the repository root
        sdist = os.path.join(REPOSITORY, sdist)
    work = tempfile.mkdtemp(prefix="synchro-compat-")
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    (root,) = (os.path.join(work, name) for name in os.listdir(work))
    overlay = os.path.join(work, "overlay")
    os.mkdir(overlay)
    for name in ("tests.py", "test_urls.py"):
        with open(os.path.join(root, "synchro", name), encoding="utf-8") as handle:
            text = adapt(name, handle.read())
        with open(os.path.join(overlay, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(os.path.join(root, "runtests.py"), encoding="utf-8") as handle:
        original = runtests_settings(handle.read())

    print(f"django-synchro 0.7 suite from {os.path.basename(sdist)}; adaptations made at run time:")
    for item in ADAPTATIONS:
        print(f"  {item.file}: {item.old!r} -> {item.new!r} ({item.reason})")
    for test, reason in ADAPTED_TESTS.items():
        print(f"  adapted test {test}: {reason}")
    for test, reason in DESELECTED_TESTS.items():
        print(f"  deselected test {test}: {reason}")

    ok = True
    summary = []
    for use_tz in (False, True):
        config_path = os.path.join(work, f"job-{use_tz}.json")
        job = {
            "settings": modern_settings(original, use_tz),
            "overlay": overlay,
            "labels": labels or ["synchro.tests"],
        }
        with open(config_path, "w") as handle:
            json.dump(job, handle)
        print(f"\n=== USE_TZ = {use_tz} ===", flush=True)
        process = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", config_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        print(process.stdout, end="")
        lines = [line for line in process.stdout.splitlines() if line.startswith("COMPAT-RESULT ")]
        if process.returncode or not lines:
            summary.append(f"USE_TZ={use_tz}: the run crashed (exit status {process.returncode})")
            ok = False
            continue
        outcome = json.loads(lines[-1].split(" ", 1)[1])
        bad = outcome["failures"] + outcome["errors"] + outcome["skipped"]
        complete = bool(labels) or outcome["ran"] == EXPECTED_TESTS - len(DESELECTED_TESTS)
        passed = outcome["ran"] - len(bad)
        summary.append(
            f"USE_TZ={use_tz}: {passed}/{outcome['ran']} passed, {len(outcome['failures'])} failed, "
            f"{len(outcome['errors'])} errors, {len(outcome['skipped'])} skipped"
            + ("" if complete else f" (expected {EXPECTED_TESTS} tests)")
        )
        summary.extend(f"    not passed: {test}" for test in bad)
        ok = ok and not bad and complete
    import django

    print(f"\n=== django-synchro 0.7 suite on Django {django.get_version()} ===")
    print("\n".join(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
