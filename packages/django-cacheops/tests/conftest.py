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


@pytest.fixture
def posts() -> tuple[Any, Any]:
    """Categories a and b; posts p1 (a, rating 1, visible), p2 (a, 2, hidden), p3 (b, 1, visible).
    Test modules with posts of their own define their own fixture of this name."""
    from tests.testapp.models import Category, Post

    a = Category.objects.create(title="a")
    b = Category.objects.create(title="b")
    Post.objects.create(title="p1", category=a, rating=1, visible=True)
    Post.objects.create(title="p2", category=a, rating=2, visible=False)
    Post.objects.create(title="p3", category=b, rating=1, visible=True)
    return a, b
