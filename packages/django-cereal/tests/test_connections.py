"""Stale database connections: reconnect and retry once, but never inside an atomic block."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, connections, transaction

from django_cereal import json as cereal_json
from tests.testapp.models import Book

pytestmark = [pytest.mark.vendor("postgresql", "mysql"), pytest.mark.django_db(transaction=True)]


def kill_current_connection(db_vendor: str) -> None:
    """Make the server drop this thread's connection, as a database restart or idle timeout would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if db_vendor == "postgresql" else "SELECT CONNECTION_ID()")
        (server_id,) = cursor.fetchone()
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            if db_vendor == "postgresql":
                cursor.execute("SELECT pg_terminate_backend(%s)", [server_id])
            else:
                cursor.execute(f"KILL {int(server_id)}")
    finally:
        killer.close()


def decoded_args(book):
    payload = cereal_json.dumps(
        ((book,), {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
    )
    args, _, _ = cereal_json.loads(payload)
    return args


def test_stale_connection_is_closed_and_the_load_retried(db_vendor):
    book = Book.objects.create(title="survives")
    args = decoded_args(book)
    kill_current_connection(db_vendor)
    (loaded,) = list(args)
    assert loaded.title == "survives"


def test_no_retry_inside_an_atomic_block(db_vendor):
    book = Book.objects.create(title="inside")
    args = decoded_args(book)
    with pytest.raises(OperationalError), transaction.atomic():
        kill_current_connection(db_vendor)
        list(args)
