"""Django ``DATABASES`` builders for SQLite, PostgreSQL and MariaDB/MySQL.

A package's ``tests/settings.py`` calls :func:`databases`::

    from shared_testing.databases import databases
    DATABASES = databases("default", "remote")

The vendor is chosen by ``TEST_DATABASE`` (``sqlite``, the default;
``postgresql``; ``mysql``/``mariadb``). ``TEST_DATABASE_URL`` points at an
existing server (its scheme also picks the vendor). Without a URL, PostgreSQL
is started as a throw-away cluster; MariaDB/MySQL needs a URL.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any
from urllib.parse import unquote, urlsplit

_VENDORS = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "pg": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
}


def database_vendor() -> str:
    """``sqlite``, ``postgresql`` or ``mysql``, from ``TEST_DATABASE`` or the URL's scheme."""
    name = os.environ.get("TEST_DATABASE", "").strip().lower()
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not name and url:
        name = urlsplit(url).scheme.split("+")[0]
    name = name or "sqlite"
    try:
        return _VENDORS[name]
    except KeyError:
        raise ValueError(
            f"TEST_DATABASE={name!r} is not supported: use sqlite, postgresql or mysql"
        ) from None


def _server_url(vendor: str) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if vendor == "postgresql":
        from .servers import get_postgresql

        return get_postgresql().url
    raise RuntimeError(
        f"TEST_DATABASE={vendor} needs TEST_DATABASE_URL (e.g. mysql://root@127.0.0.1:3306/test)"
    )


def _from_url(url: str, vendor: str, name: str) -> dict[str, Any]:
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "ENGINE": _ENGINES[vendor],
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "TEST": {"NAME": f"test_{name}"},
    }
    if vendor == "mysql":
        config["OPTIONS"] = {"charset": "utf8mb4"}
        config["TEST"].update(CHARSET="utf8mb4", COLLATION="utf8mb4_unicode_ci")
    return config


_sqlite_dir: str | None = None


def databases(*aliases: str) -> dict[str, dict[str, Any]]:
    """A ``DATABASES`` dict with one database per alias (default: ``("default",)``).

    Every alias is a separate database on the chosen server. Names carry the
    process id, so test sessions can run side by side on one server.
    """
    global _sqlite_dir
    aliases = aliases or ("default",)
    vendor = database_vendor()
    result: dict[str, dict[str, Any]] = {}
    if vendor == "sqlite":
        if _sqlite_dir is None:
            _sqlite_dir = tempfile.mkdtemp(prefix="shared-testing-sqlite-")
        for alias in aliases:
            result[alias] = {
                "ENGINE": _ENGINES["sqlite"],
                "NAME": os.path.join(_sqlite_dir, f"{alias}.sqlite3"),
                # A file (not in-memory) test database, so a Celery worker thread sees it.
                "TEST": {"NAME": os.path.join(_sqlite_dir, f"test_{alias}.sqlite3")},
            }
        return result
    url = _server_url(vendor)
    for alias in aliases:
        result[alias] = _from_url(url, vendor, f"st_{alias}_{os.getpid()}")
    return result
