from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.modes import mode  # noqa: F401 - the storage-mode fixture


@pytest.fixture(autouse=True)
def _clean_cache(redis_server: Any) -> Iterator[None]:
    """Every test starts with an empty cacheops Redis database."""
    from cacheops import invalidate_all

    invalidate_all()
    yield


class QueryCounter:
    """Counts SQL statements run on a connection while active (CaptureQueriesContext)."""

    def __init__(self, using: str = "default") -> None:
        from django.db import connections
        from django.test.utils import CaptureQueriesContext

        self.ctx = CaptureQueriesContext(connections[using])

    def __enter__(self) -> QueryCounter:
        self.ctx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.ctx.__exit__(*exc)

    @property
    def count(self) -> int:
        return len(self.ctx.captured_queries)


@pytest.fixture
def queries() -> type[QueryCounter]:
    return QueryCounter
