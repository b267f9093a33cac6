from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import override_settings

from synchro import DisableSynchroLog, disable_synchro_log, log_changes
from synchro.models import ChangeLog
from tests.testapp.models import Author, Book, Event, Person, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


def _actions():
    return [(log.model, log.action) for log in ChangeLog.objects.order_by("id")]


def test_add_change_delete_are_logged_in_order():
    author = Author.objects.create(name="a")
    author.name = "b"
    author.save()
    author.delete()
    assert _actions() == [
        ("testapp.author", ChangeLog.ADDITION),
        ("testapp.author", ChangeLog.CHANGE),
        ("testapp.author", ChangeLog.DELETION),
    ]


def test_m2m_changes_log_the_owner_from_either_side():
    book = Book.objects.create(title="b", author=Author.objects.create(name="a"))
    tag = Tag.objects.create(name="t")
    ChangeLog.objects.all().delete()
    book.tags.add(tag)
    tag.books.remove(book)
    tag.books.add(book)
    tag.books.clear()
    owners = {(log.model, log.object_id, log.action) for log in ChangeLog.objects.all()}
    assert owners == {("testapp.book", str(book.pk), ChangeLog.M2M_CHANGE)}
    assert ChangeLog.objects.count() == 4


def test_symmetrical_m2m_logs_both_people():
    a, b = Person.objects.create(name="a"), Person.objects.create(name="b")
    ChangeLog.objects.all().delete()
    a.friends.add(b)
    assert sorted(ChangeLog.objects.values_list("object_id", flat=True)) == sorted([str(a.pk), str(b.pk)])


def test_nested_disable_keeps_logging_off_until_the_outer_block_ends():
    with DisableSynchroLog():
        with DisableSynchroLog():
            Author.objects.create(name="inner")
        Author.objects.create(name="still off")
    Author.objects.create(name="on again")
    assert list(ChangeLog.objects.values_list("action", flat=True)) == [ChangeLog.ADDITION]


def test_the_same_disabler_can_be_nested():
    off = DisableSynchroLog()
    with off:
        with off:
            pass
        Author.objects.create(name="x")
    assert not ChangeLog.objects.exists()


def test_decorator_disables_logging():
    @disable_synchro_log
    def make():
        Author.objects.create(name="quiet")

    make()
    assert not ChangeLog.objects.exists()


@pytest.mark.django_db(databases=["default", "remote"], transaction=True)
def test_disabling_in_one_thread_does_not_affect_another():
    inside = threading.Event()
    done = threading.Event()

    def other_thread():
        inside.wait(10)
        try:
            Author.objects.create(name="other thread")
        finally:
            connections.close_all()
            done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with DisableSynchroLog():
        Author.objects.create(name="quiet")
        inside.set()
        done.wait(10)
    worker.join()
    assert list(ChangeLog.objects.values_list("model", flat=True)) == ["testapp.author"]


def test_decorated_function_runs_in_many_threads_at_once():
    barrier = threading.Barrier(4)
    errors = []

    @disable_synchro_log
    def work():
        barrier.wait(10)  # all four threads are inside the decorated function together

    def run():
        try:
            work()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    Author.objects.create(name="logged")
    assert ChangeLog.objects.count() == 1


def test_watched_models_follow_override_settings():
    with override_settings(SYNCHRO_MODELS=["testapp"]):
        from tests.testapp.models import Unwatched

        Unwatched.objects.create(name="now watched").delete()
        assert ChangeLog.objects.filter(model="testapp.unwatched").count() == 2
    with override_settings(SYNCHRO_MODELS=[("testapp", "tag")]):
        Author.objects.create(name="not watched now")
    assert not ChangeLog.objects.filter(model="testapp.author").exists()


def test_deletion_keeps_the_natural_key_as_json():
    import datetime

    event = Event.objects.create(code="c", day=datetime.date(2020, 1, 2))
    event.delete()
    assert ChangeLog.objects.get(action=ChangeLog.DELETION).natural_key == ["c", "2020-01-02"]


def test_log_table_has_indexes_for_lookups():
    with connections["default"].cursor() as cursor:
        constraints = connections["default"].introspection.get_constraints(cursor, ChangeLog._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["primary_key"]}
    # Conflict checks look up by object; everything else walks the ids. One index per logged save.
    assert indexed == {("id",), ("object_id",)}


def test_synchro_manager_logs_bulk_writes():
    created = Author.objects.bulk_create([Author(name="b1"), Author(name="b2")])
    Author.objects.filter(name="b1").update(name="b1!")
    created[1].name = "b2!"
    Author.objects.bulk_update([created[1]], ["name"])
    actions = sorted(ChangeLog.objects.values_list("action", flat=True))
    assert actions == [ChangeLog.ADDITION, ChangeLog.ADDITION, ChangeLog.CHANGE, ChangeLog.CHANGE]


def test_log_changes_by_hand():
    with DisableSynchroLog():
        tag = Tag.objects.create(name="raw")
    log_changes(Tag, [tag.pk])
    assert ChangeLog.objects.get().object_id == str(tag.pk)
    with pytest.raises(ValueError, match="action"):
        log_changes(Tag, [tag.pk], action="upsert")


class LogWriteFails(Exception):
    pass


def _fail_log_inserts(execute, sql, params, many, context):
    if "synchro_changelog" in sql and sql.lstrip().upper().startswith("INSERT"):
        raise LogWriteFails("the log table refused the row")
    return execute(sql, params, many, context)


@pytest.mark.django_db(databases=["default", "remote"], transaction=True)
def test_in_autocommit_a_save_and_its_log_entry_commit_together():
    connection = connections["default"]
    with connection.execute_wrapper(_fail_log_inserts), pytest.raises(LogWriteFails):
        Author.objects.create(name="unlogged")
    assert not Author.objects.filter(name="unlogged").exists()  # no change without its log entry
    assert connection.get_autocommit() and not connection.in_atomic_block
    Author.objects.create(name="logged")
    assert list(Author.objects.values_list("name", flat=True)) == ["logged"]
    assert _actions() == [("testapp.author", ChangeLog.ADDITION)]


@pytest.mark.django_db(databases=["default", "remote"], transaction=True)
def test_receivers_after_synchro_run_once_the_save_is_committed():
    from django.db.models.signals import post_save

    seen = []

    def later_receiver(sender, instance, **kwargs):
        seen.append(connections["default"].in_atomic_block)
        raise RuntimeError("a receiver failed")

    post_save.connect(later_receiver, sender=Author)
    try:
        with pytest.raises(RuntimeError):
            Author.objects.create(name="kept")
    finally:
        post_save.disconnect(later_receiver, sender=Author)
    assert seen == [False]
    assert list(Author.objects.values_list("name", flat=True)) == ["kept"]  # as with plain Django
    assert _actions() == [("testapp.author", ChangeLog.ADDITION)]


@pytest.mark.django_db(databases=["default", "remote"], transaction=True)
def test_only_watched_models_get_the_one_commit_save():
    from django.test.utils import CaptureQueriesContext

    with override_settings(SYNCHRO_MODELS=[("testapp", "Tag")]):
        with CaptureQueriesContext(connections["default"]) as queries:
            Author.objects.create(name="plain")
        assert len(queries) == 1  # Django's own single INSERT
        with CaptureQueriesContext(connections["default"]) as queries:
            Tag.objects.create(name="watched")
        assert len(queries) >= 2 and not ChangeLog.objects.filter(model="testapp.author").exists()
    assert ChangeLog.objects.filter(model="testapp.tag").count() == 1


@pytest.mark.parametrize("use_tz", [True, False])
def test_log_date_is_what_the_backend_adapter_gives(use_tz):
    import datetime

    from synchro.handlers import log_date

    moments = [
        datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc),
        datetime.datetime(2024, 3, 1, 0, 0, 0, tzinfo=datetime.timezone.utc),  # no microseconds
    ]
    with override_settings(USE_TZ=use_tz):
        for alias in ("default", "remote"):
            connection = connections[alias]
            for now in moments if use_tz else [m.replace(tzinfo=None) for m in moments]:
                assert log_date(connection, now) == connection.ops.adapt_datetimefield_value(now)
