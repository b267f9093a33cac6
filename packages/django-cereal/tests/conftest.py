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
def celery_includes(django_db_setup, django_db_blocker) -> list[str]:
    # Celery's Django fix-up runs Django's system checks when the app imports these modules, outside
    # any test's database access. The one check that asks the database (JSONField support, for
    # django-tasks-db's model) gets its answer here first; Django caches it per connection.
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            assert connection.features.supports_json_field in (True, False)
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


@pytest.fixture
def send_raw(celery_app, worker):
    """Publish a hand-made body for a task to the worker's queue, as a crafted message would arrive.

    ``send_raw(task_name, content_type, body)`` returns the ``AsyncResult``. The headers are the
    ones Celery writes for protocol 2; the body bytes are sent as they are.
    """
    import uuid

    from kombu import Connection, Producer

    def send(task_name: str, content_type: str, body: bytes, args_repr: str = "()"):
        task_id = str(uuid.uuid4())
        message = celery_app.amqp.as_task_v2(task_id, task_name, args=(), kwargs={}, argsrepr=args_repr)
        queue = celery_app.conf.task_default_queue
        with Connection(celery_app.conf.broker_url) as conn:
            Producer(conn).publish(
                body,
                routing_key=queue,
                exchange=queue,
                headers=message.headers,
                content_type=content_type,
                content_encoding="binary" if "pickle" in content_type else "utf-8",
                correlation_id=task_id,
                delivery_mode=2,
            )
        return celery_app.AsyncResult(task_id)

    return send
