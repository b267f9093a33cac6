"""A CACHEOPS_PREFIX callable used by the test suite when CACHEOPS_PREFIX=1 is set."""

from __future__ import annotations

from typing import Any


def prefix(query: Any) -> str:
    """Keys of each database live under their own prefix (the plain cache's under "p:")."""
    return f"p-{query.db}:" if query.dbs else "p:"
