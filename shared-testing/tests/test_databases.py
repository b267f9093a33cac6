import os
import pwd
import subprocess
from pathlib import Path

import pytest

from shared_testing.databases import database_vendor, databases
from shared_testing.servers import start_postgresql


def test_sqlite_is_the_default(monkeypatch):
    monkeypatch.delenv("TEST_DATABASE", raising=False)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    dbs = databases("default", "remote")
    assert set(dbs) == {"default", "remote"}
    assert dbs["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert dbs["default"]["NAME"] != dbs["remote"]["NAME"]


def test_url_picks_vendor_and_names_each_alias(monkeypatch):
    monkeypatch.delenv("TEST_DATABASE", raising=False)
    monkeypatch.setenv("TEST_DATABASE_URL", "mysql://root:s%40cret@127.0.0.1:3306/test")
    assert database_vendor() == "mysql"
    dbs = databases("default", "remote")
    assert dbs["default"]["PASSWORD"] == "s@cret"
    assert dbs["default"]["PORT"] == "3306"
    assert dbs["default"]["NAME"] != dbs["remote"]["NAME"]
    assert dbs["remote"]["TEST"]["CHARSET"] == "utf8mb4"


def test_unknown_vendor_is_named(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE", "oracle")
    with pytest.raises(ValueError, match="oracle"):
        database_vendor()


def test_postgresql_starts_as_unprivileged_user_and_answers():
    psycopg = pytest.importorskip("psycopg", reason="shared-testing[postgresql] not installed")
    server = start_postgresql()
    workdir = server.workdir
    try:
        with psycopg.connect(server.url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        pid = Path(server.workdir, "data", "postmaster.pid").read_text().split()[0]
        owner = subprocess.run(
            ["ps", "-o", "user=", "-p", pid], capture_output=True, text=True
        ).stdout.strip()
        if os.geteuid() == 0:
            assert owner != "root"
        else:
            assert owner == pwd.getpwuid(os.geteuid()).pw_name
    finally:
        server.stop()
    assert not os.path.exists(workdir)
