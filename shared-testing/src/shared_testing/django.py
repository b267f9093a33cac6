"""Opt-in pytest plugin for the Django packages (``-p shared_testing.django``).

pytest-django stays the engine; this adds the vendor fixture and a marker.
Settings come from :func:`shared_testing.databases.databases`.
"""

from __future__ import annotations

import pytest

from .databases import database_vendor


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vendor(*names): run only on these database vendors (sqlite, postgresql, mysql)"
    )


@pytest.fixture(scope="session")
def db_vendor() -> str:
    """The database vendor this session runs on: ``sqlite``, ``postgresql`` or ``mysql``."""
    return database_vendor()


@pytest.fixture(autouse=True)
def _vendor_marker(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("vendor")
    if marker is not None and database_vendor() not in marker.args:
        pytest.skip(f"only on {', '.join(marker.args)}")
