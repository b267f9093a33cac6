"""Fixtures: the harness' real broker and worker, configured to accept django-cereal's content types."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from celery import shared_task

ACCEPT = ["json", "django-cereal-json", "django-cereal-pickle"]

GATE_STARTED = threading.Event()
GATE_OPEN = threading.Event()


@shared_task(name="cereal.gate")
def gate() -> str:
    """Keeps the (solo) worker busy until the test opens the gate."""
    GATE_STARTED.set()
    GATE_OPEN.wait(timeout=120)
    return "open"


@pytest.fixture(scope="session")
def celery_config() -> dict:
    return {
        "accept_content": ACCEPT,
        "task_serializer": "json",
        "result_serializer": "json",
        "result_accept_content": ["json"],
        "worker_prefetch_multiplier": 4,
    }


@pytest.fixture(scope="session")
def celery_includes() -> list[str]:
    return ["tests.tasks", "tests.conftest"]


@pytest.fixture
def worker(celery_app, celery_worker, transactional_db):
    """The running worker (tasks see committed rows only)."""
    return celery_worker


@contextmanager
def _held() -> Iterator[None]:
    GATE_STARTED.clear()
    GATE_OPEN.clear()
    result = gate.delay()
    try:
        assert GATE_STARTED.wait(timeout=60), "the worker never started the gate task"
        yield
    finally:
        GATE_OPEN.set()
    assert result.get(timeout=60) == "open"


@pytest.fixture
def held_worker(worker):
    """A context manager: while inside it, the worker is busy and queued tasks wait.

    Send tasks inside the block, change the database, leave the block: the tasks run afterwards.
    """
    return _held


@pytest.fixture
def broker_message(celery_app):
    """Fetch the raw message of a task sent to a queue nobody consumes: ``(content_type, body)``."""
    from kombu import Connection

    def fetch(queue: str) -> tuple[str, bytes]:
        with Connection(celery_app.conf.broker_url) as conn:
            simple = conn.SimpleQueue(queue)
            try:
                message = simple.get(timeout=30)
                message.ack()
                body = message.body
                return message.content_type, body.encode() if isinstance(body, str) else bytes(body)
            finally:
                simple.clear()
                simple.close()

    return fetch
