"""The longer run of the replay state machine (issue 20), for ``nox -s bench-django-synchro``.

Runs tests/test_differential.py with ``SYNCHRO_REPLAY_SCALE`` times the CI budget (default 5)
and a random seed (``SYNCHRO_REPLAY_SEED`` to repeat one; it is printed), on every database pair
this machine offers, each in its own pytest process as the test sessions would:

* SQLite -> SQLite, always;
* SQLite -> PostgreSQL: ``TEST_DATABASE_URL_POSTGRESQL``, else a throw-away cluster of the harness;
* PostgreSQL -> MariaDB: ``TEST_DATABASE_URL_MYSQL`` (default mysql://root@127.0.0.1:3306/test)
  when mysqlclient is installed (``pip install mysqlclient``; it needs the MariaDB client headers).

``SYNCHRO_REPLAY_MINUTES=20`` keeps going (a new seed per round of pairs) until that many minutes
have passed. Arguments go to pytest. A failure prints the LOCAL script that produced it (shrunk
to a minimal one) and its seed, and the script exits non-zero. (Named to run after
bench_synchro.py, so a finding does not hold back the speed figures.)
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
import time

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

runs = {"sqlite-sqlite": {"TEST_DATABASE": "sqlite"}}
postgresql = {"TEST_DATABASE": "postgresql"}
if os.environ.get("TEST_DATABASE_URL_POSTGRESQL"):
    postgresql["TEST_DATABASE_URL"] = os.environ["TEST_DATABASE_URL_POSTGRESQL"]
runs["sqlite-postgresql"] = postgresql
if importlib.util.find_spec("MySQLdb") is not None:
    mysql_url = os.environ.get("TEST_DATABASE_URL_MYSQL") or "mysql://root@127.0.0.1:3306/test"
    runs["postgresql-mariadb"] = {"TEST_DATABASE": "mysql", "TEST_DATABASE_URL": mysql_url}
else:
    print("postgresql-mariadb: not run, mysqlclient is not installed (pip install mysqlclient)")

scale = os.environ.get("SYNCHRO_REPLAY_SCALE", "5")
minutes = float(os.environ.get("SYNCHRO_REPLAY_MINUTES", "0"))
fixed_seed = os.environ.get("SYNCHRO_REPLAY_SEED")
failed = []
started = time.perf_counter()
rounds = 0
while not rounds or (not fixed_seed and time.perf_counter() - started < minutes * 60):
    rounds += 1
    seed = fixed_seed or str(random.randrange(2**32))
    print(f"replay fuzzing: SYNCHRO_REPLAY_SCALE={scale} SYNCHRO_REPLAY_SEED={seed}")
    for pair, env in runs.items():
        start = time.perf_counter()
        environment = {
            **{k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE", "TEST_DATABASE_URL")},
            **env,
            "SYNCHRO_REPLAY_SCALE": scale,
            "SYNCHRO_REPLAY_SEED": seed,
        }
        command = [sys.executable, "-m", "pytest", "tests/test_differential.py", "-q", "-rxXs", *sys.argv[1:]]
        result = subprocess.run(command, cwd=PACKAGE, env=environment, capture_output=True, text=True)
        lines = result.stdout.strip().splitlines()
        outcome = lines[-1] if lines else result.stderr.strip()[-500:]
        print(f"{pair}: {outcome} ({time.perf_counter() - start:.0f} s)")
        if result.returncode != 0:
            failed.append(f"{pair} (seed {seed})")
            print(result.stdout[-20000:], result.stderr[-5000:], sep="\n")
print(f"replay fuzzing: {rounds} round(s) in {(time.perf_counter() - started) / 60:.1f} min")
if failed:
    raise SystemExit(f"replay fuzzing failed on {', '.join(failed)}")
