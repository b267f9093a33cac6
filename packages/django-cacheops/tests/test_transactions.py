from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from cacheops.transaction import is_dirty, is_sql_dirty
from tests.testapp.models import Category, Document

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


def in_other_thread(func):
    """Run ``func`` in another thread (its own connection) and return its result."""
    box = []

    def run():
        try:
            box.append(func())
        finally:
            from django.db import connections

            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return box[0]


def titles():
    return sorted(c.title for c in Category.objects.all())


def test_invalidation_waits_for_commit_and_runs_before_user_callbacks(queries):
    Category.objects.create(title="a")
    assert titles() == ["a"]
    seen_by_callback = []
    with transaction.atomic():
        transaction.on_commit(lambda: seen_by_callback.append(in_other_thread(titles)))
        Category.objects.create(title="b")
        # other connections still see (and may cache) committed data only
        assert in_other_thread(titles) == ["a"]
    assert seen_by_callback == [["a", "b"]]
    with queries() as q:
        assert titles() == ["a", "b"]
    assert q.count == 0


def test_rollback_drops_invalidation_and_dirty_reads_are_not_cached(queries):
    Category.objects.create(title="a")
    assert titles() == ["a"]
    with pytest.raises(RuntimeError), transaction.atomic():
        Category.objects.create(title="b")
        assert is_dirty("default")
        assert titles() == ["a", "b"]  # dirty read straight from the database
        raise RuntimeError
    assert not is_dirty("default")
    with queries() as q:
        assert titles() == ["a"]  # neither the dirty read nor a needless invalidation
    assert q.count == 0


def test_clean_transaction_reads_use_cache(queries):
    Category.objects.create(title="a")
    titles()
    with transaction.atomic():
        with queries() as q:
            assert titles() == ["a"]
        assert q.count == 0


def test_savepoints():
    Category.objects.create(title="a")
    titles()
    with transaction.atomic():
        try:
            with transaction.atomic():
                Category.objects.create(title="b")
                raise ValueError
        except ValueError:
            pass
        assert not is_dirty("default")  # the write was rolled back with its savepoint
        with transaction.atomic():
            Category.objects.create(title="c")
        assert is_dirty("default")
    assert titles() == ["a", "c"]


def test_raw_sql_write_marks_dirty():
    with transaction.atomic():
        assert not is_dirty("default")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE testapp_category SET title = 'x' WHERE 1 = 0")
        assert is_dirty("default")


def test_is_dirty_ignores_columns_named_like_writes():
    assert not is_sql_dirty('SELECT "is_deleted", "updated_at" FROM "t" WHERE "is_deleted" = %s')
    assert not is_sql_dirty("SELECT 1 FOR UPDATE")
    assert is_sql_dirty("  update t set x = 1")
    assert is_sql_dirty("/* c */ DELETE FROM t")
    assert is_sql_dirty("INSERT INTO t VALUES (1)")
    assert is_sql_dirty("WITH x AS (SELECT 1) UPDATE t SET a = 1")
    assert not is_sql_dirty("WITH x AS (SELECT 1) SELECT * FROM x")
    with transaction.atomic():
        list(Document.objects.filter(is_deleted=False).nocache())
        assert not is_dirty("default")
        Document.objects.filter(is_deleted=False).count()
        assert not is_dirty("default")


def test_raw_executemany_write_marks_dirty():
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany("UPDATE testapp_category SET title = %s WHERE id = %s", [("x", 0), ("y", -1)])
        assert is_dirty("default")
    assert not is_dirty("default")


def test_reads_outside_atomic_blocks_are_not_watched():
    with connection.cursor() as cursor:
        cursor.execute("UPDATE testapp_category SET title = 'x' WHERE 1 = 0")
    assert not is_dirty("default")
    with transaction.atomic():
        assert not is_dirty("default")  # the write before the block does not count
