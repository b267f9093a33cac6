"""Database pairs (LOCAL -> REMOTE) for the replay tests of issue 20, one set per test session.

The harness gives both ``default`` and ``remote`` the session's vendor; the replay tests need
LOCAL and REMOTE on different engines, so each session offers the pairs its servers allow:

* the SQLite session: ``sqlite-sqlite`` (``default`` -> ``remote``);
* the PostgreSQL session: ``sqlite-postgresql`` (``sqlite_local`` -> ``remote``);
* the MariaDB session: ``postgresql-mariadb`` (``pg_local`` -> ``remote``). ``pg_local`` is a
  database of its own on the PostgreSQL server named by ``TEST_DATABASE_URL_POSTGRESQL``
  (default ``postgresql://postgres@127.0.0.1:5432/postgres``). When that server does not answer
  or psycopg is missing, the alias is left out and the pair's tests skip, naming the reason.

``tests/settings.py`` adds :func:`extra_databases` to ``DATABASES``; the tests read
:data:`PAIRS` (id -> (local, remote)) and :data:`UNAVAILABLE` (id -> why it cannot run here).
This module imports nothing of Django, so the settings can import it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

from shared_testing.databases import database_vendor

POSTGRESQL_URL = (
    os.environ.get("TEST_DATABASE_URL_POSTGRESQL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgresql(url: str, name: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "TEST": {"NAME": f"test_{name}"},
    }


def _unreachable(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None when it answers."""
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        return "psycopg is not installed"
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=3).close()
    except OSError as exc:
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is not reachable ({exc})"
    return None


VENDOR = database_vendor()
PAIRS: dict[str, tuple[str, str]] = {}
UNAVAILABLE: dict[str, str] = {}
_EXTRA: dict[str, dict[str, Any]] = {}

if VENDOR == "sqlite":
    PAIRS["sqlite-sqlite"] = ("default", "remote")
elif VENDOR == "postgresql":
    PAIRS["sqlite-postgresql"] = ("sqlite_local", "remote")
elif VENDOR == "mysql":
    _why = _unreachable(POSTGRESQL_URL)
    if _why is None:
        _EXTRA["pg_local"] = _postgresql(POSTGRESQL_URL, f"st_pg_local_{os.getpid()}")
        PAIRS["postgresql-mariadb"] = ("pg_local", "remote")
    else:
        UNAVAILABLE["postgresql-mariadb"] = f"{_why}; set TEST_DATABASE_URL_POSTGRESQL"


def extra_databases() -> dict[str, dict[str, Any]]:
    """The aliases the pairs of this session need beyond ``default``, ``remote`` and ``sqlite_local``."""
    return dict(_EXTRA)
