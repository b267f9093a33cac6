"""Opt-in pytest plugin: a Celery app and a real worker on a real broker.

Enable with ``-p shared_testing.celery``. The broker is ``CELERY_BROKER_URL``
when set (e.g. RabbitMQ: ``amqp://guest:guest@127.0.0.1:5672//``), else the
harness' Redis (db 1). Results go to ``CELERY_RESULT_BACKEND`` or Redis db 2.
Each session uses a queue of its own, so sessions can share a broker.

Fixtures (override ``celery_config`` and ``celery_includes`` in a conftest):

* ``celery_app`` (session): the app, set as current and default;
* ``celery_worker`` (session): a worker thread consuming from the app's queue,
  started after a ping round trip; tasks run in the test process, so they see
  the test database (use ``transactional_db``: the worker's connection only
  sees committed rows).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def celery_broker_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL")
    if url:
        return url
    from .servers import get_redis_server

    return get_redis_server().url_for_db(1)


@pytest.fixture(scope="session")
def celery_result_backend() -> str:
    url = os.environ.get("CELERY_RESULT_BACKEND")
    if url:
        return url
    from .servers import get_redis_server

    return get_redis_server().url_for_db(2)


@pytest.fixture(scope="session")
def celery_config() -> dict[str, Any]:
    """Extra Celery settings; override in a package's conftest."""
    return {}


@pytest.fixture(scope="session")
def celery_includes() -> list[str]:
    """Modules the app imports before the worker starts (where tasks are defined)."""
    return []


@pytest.fixture(scope="session")
def celery_app(
    celery_broker_url: str,
    celery_result_backend: str,
    celery_config: dict[str, Any],
    celery_includes: list[str],
) -> Iterator[Any]:
    from celery import Celery

    app = Celery("shared_testing", set_as_current=True)
    app.conf.update(
        broker_url=celery_broker_url,
        result_backend=celery_result_backend,
        task_default_queue=f"shared-testing-{uuid.uuid4().hex[:12]}",
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=False,
        result_expires=600,
    )
    app.conf.update(celery_config)
    app.conf.include = [*app.conf.get("include", ()), "celery.contrib.testing.tasks", *celery_includes]
    app.set_default()
    app.set_current()
    app.loader.import_default_modules()
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict[str, Any]:
    """Keyword arguments for ``start_worker``; override in a conftest."""
    return {}


@pytest.fixture(scope="session")
def celery_worker(celery_app: Any, celery_worker_parameters: dict[str, Any]) -> Iterator[Any]:
    from celery.contrib.testing.worker import start_worker

    params: dict[str, Any] = {"pool": "solo", "concurrency": 1, "loglevel": "WARNING", "shutdown_timeout": 30}
    params.update(celery_worker_parameters)
    with start_worker(celery_app, perform_ping_check=True, **params) as worker:
        yield worker
