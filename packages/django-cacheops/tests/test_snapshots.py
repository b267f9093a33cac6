"""A transaction reading from a snapshot (REPEATABLE READ, SERIALIZABLE) may read rows older
than a write another connection committed and invalidated meanwhile: such reads may use the
cache but are never stored in it (PostgreSQL and MariaDB/MySQL cells)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction

from tests.testapp.models import Category

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.vendor("postgresql", "mysql")]


def in_other_thread(func: Any) -> None:
    """Run ``func`` on a connection of its own (committed when it returns)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            func()
        except BaseException as e:
            errors.append(e)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def rename(pk: int, title: str) -> None:
    cat = Category.objects.nocache().get(pk=pk)
    cat.title = title
    cat.save()  # commits (autocommit) and invalidates


@pytest.fixture
def repeatable_read() -> Iterator[None]:
    """The default database's connections run REPEATABLE READ transactions."""
    if connection.vendor == "postgresql":
        from django.db.backends.postgresql.psycopg_any import IsolationLevel

        level: Any = IsolationLevel.REPEATABLE_READ
    else:
        level = "repeatable read"
    options = connection.settings_dict.setdefault("OPTIONS", {})
    before = options.get("isolation_level", "unset")
    options["isolation_level"] = level
    connection.close()
    try:
        yield
    finally:
        if before == "unset":
            del options["isolation_level"]
        else:
            options["isolation_level"] = before
        connection.close()


def _old_snapshot_is_read_but_not_stored(cat: Category) -> None:
    assert Category.objects.nocache().get(pk=cat.pk).title == "a"  # the snapshot is taken here
    in_other_thread(lambda: rename(cat.pk, "b"))
    # a miss (the other connection's save invalidated it), read from the transaction's snapshot
    assert Category.objects.cache().get(pk=cat.pk).title == "a"


def test_repeatable_read_snapshots_are_not_stored(repeatable_read):
    cat = Category.objects.create(title="a")
    with transaction.atomic():
        _old_snapshot_is_read_but_not_stored(cat)
    assert Category.objects.cache().get(pk=cat.pk).title == "b"
    assert Category.objects.cache().get(pk=cat.pk).title == "b"


@pytest.mark.vendor("postgresql")
def test_a_transaction_set_to_repeatable_read_by_sql():
    cat = Category.objects.create(title="a")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _old_snapshot_is_read_but_not_stored(cat)
    assert Category.objects.cache().get(pk=cat.pk).title == "b"


def test_read_committed_transactions_still_store():
    from cacheops.transaction import may_store

    cat = Category.objects.create(title="a")
    with transaction.atomic():
        assert may_store("default")
        assert Category.objects.cache().get(pk=cat.pk).title == "a"
    assert may_store("default")
