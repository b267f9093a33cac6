"""The storage modes every behaviour test runs in: classic, insideout and classic with a prefix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

MODES = {
    "classic": {},
    "insideout": {"CACHEOPS_INSIDEOUT": True},
    "prefix": {"CACHEOPS_PREFIX": "tests.prefix.prefix"},
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Run the test in each storage mode (settings changed through override, like a user would)."""
    for name, value in MODES[request.param].items():
        setattr(settings, name, value)
    from cacheops import invalidate_all

    invalidate_all()
    yield request.param
