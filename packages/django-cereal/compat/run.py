"""Run django-cereal 0.2.1's own test suite against this package (the ``compat-django-cereal`` session).

Usage::

    python compat/run.py <django-cereal-0.2.1.tar.gz> [test labels, e.g. django_cereal.tests.pickle]

The sdist is extracted into a temporary folder. Its tests live *inside* its package, as
``django_cereal/tests`` (a Django ``TestCase`` module named ``pickle.py`` and a ``testapp`` with two
models); that folder is put on the installed ``django_cereal`` package's ``__path__``, so the
tests import ``django_cereal.pickle`` (ours) and ``django_cereal.tests.testapp.models`` (theirs)
exactly as written. No file of the suite is changed. The sdist ships no settings (0.2.1 ran its
tests from a tox set-up that is not in it), so the settings below are written here: the test
app, a SQLite file database, and nothing else.

The suite runs in two variants, each in a fresh process:

* ``as-0.2.1``: the settings a 0.2.1 project had (``django_cereal`` not in INSTALLED_APPS, no
  allow-list);
* ``hardened``: ``django_cereal`` installed (its system checks run first and must be clean) and
  ``DJANGO_CEREAL_ALLOWED_MODELS`` naming the test app.

The exit status is non-zero when a test fails, errs or is skipped, when fewer tests ran than the
suite holds, or when a check reports a problem. Nothing of the original is copied into this
repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile

EXPECTED_TESTS = 5
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SUITE = "django_cereal.tests.pickle"

# Run-time adaptations of the original's files (with the reason for each): none are needed.
ADAPTATIONS: dict[str, str] = {}
# Tests adapted or deselected because they name 0.2.1's private internals (with the reason for each).
# test_cleanup reads django.db.models.Model's __reduce__/__getstate__/__setstate__, which are public
# Python protocol methods, not 0.2.1 internals; it runs unchanged (nothing is patched here at all).
ADAPTED_TESTS: dict[str, str] = {}
DESELECTED_TESTS: dict[str, str] = {}


def settings_for(variant: str, work: str) -> dict:
    """Django settings for one variant (infrastructure only; see the module docs)."""
    config: dict = {
        "SECRET_KEY": "django-cereal-compat",
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django_cereal.tests.testapp"],
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(work, f"{variant}.sqlite3"),
                "TEST": {"NAME": os.path.join(work, f"test-{variant}.sqlite3")},
            }
        },
        # 0.2.1's test models had integer primary keys and no migrations (tables made by syncdb).
        "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
        "USE_TZ": True,
    }
    if variant == "hardened":
        config["INSTALLED_APPS"].insert(1, "django_cereal")
        config["DJANGO_CEREAL_ALLOWED_MODELS"] = ["testapp"]
    return config


def child(config_path: str) -> int:
    """Run the suite in this process with the job in ``config_path``; print a JSON result line."""
    with open(config_path) as handle:
        job = json.load(handle)
    import django
    from django.conf import settings

    import django_cereal

    django_cereal.__path__.append(job["overlay"])  # the sdist's django_cereal/tests becomes ours
    settings.configure(**job["settings"])
    django.setup()
    from django.core.checks import run_checks
    from django.test.runner import DiscoverRunner

    problems = [str(message) for message in run_checks() if message.id and message.id.startswith("cereal.")]

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
        "checks": problems,
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
    if not os.path.exists(sdist):  # a path relative to the repository root
        sdist = os.path.join(REPOSITORY, sdist)
    work = tempfile.mkdtemp(prefix="cereal-compat-")
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    (root,) = (os.path.join(work, name) for name in os.listdir(work))
    overlay = os.path.join(root, "django_cereal")
    if not os.path.isfile(os.path.join(overlay, "tests", "pickle.py")):
        raise SystemExit(f"compat: {os.path.basename(sdist)} has no django_cereal/tests/pickle.py")

    print(f"django-cereal 0.2.1 suite from {os.path.basename(sdist)}")
    print("  run-time adaptations: " + ("none" if not ADAPTATIONS else ""))
    for what, reason in ADAPTATIONS.items():
        print(f"    {what}: {reason}")
    for test, reason in {**ADAPTED_TESTS, **DESELECTED_TESTS}.items():
        print(f"  {'adapted' if test in ADAPTED_TESTS else 'deselected'} {test}: {reason}")

    ok = True
    summary = []
    for variant in ("as-0.2.1", "hardened"):
        config_path = os.path.join(work, f"job-{variant}.json")
        job = {"settings": settings_for(variant, work), "overlay": overlay, "labels": labels or [SUITE]}
        with open(config_path, "w") as handle:
            json.dump(job, handle)
        print(f"\n=== {variant} ===", flush=True)
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
            summary.append(f"{variant}: the run crashed (exit status {process.returncode})")
            ok = False
            continue
        outcome = json.loads(lines[-1].split(" ", 1)[1])
        bad = outcome["failures"] + outcome["errors"] + outcome["skipped"]
        complete = bool(labels) or outcome["ran"] == EXPECTED_TESTS - len(DESELECTED_TESTS)
        passed = outcome["ran"] - len(bad)
        summary.append(
            f"{variant}: {passed}/{outcome['ran']} passed, {len(outcome['failures'])} failed, "
            f"{len(outcome['errors'])} errors, {len(outcome['skipped'])} skipped"
            + ("" if complete else f" (expected {EXPECTED_TESTS} tests)")
        )
        summary.extend(f"    not passed: {test}" for test in bad)
        summary.extend(f"    system check: {problem}" for problem in outcome["checks"])
        ok = ok and not bad and complete and not outcome["checks"]
    import django

    print(f"\n=== django-cereal 0.2.1 suite on Django {django.get_version()} ===")
    print("\n".join(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
