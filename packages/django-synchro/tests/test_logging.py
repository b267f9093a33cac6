from __future__ import annotations

import datetime
import threading
import zoneinfo

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone

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


def test_a_save_inside_another_save_logs_on_its_own_database():
    """A receiver of one watched save that saves another watched object on the other database."""
    from django.db.models.signals import post_save

    def tag_on_remote(sender, instance, created, using, **kwargs):
        if created and using == "default":
            Tag.objects.using("remote").create(name=f"for {instance.name}")

    post_save.connect(tag_on_remote, sender=Author)
    try:
        Author.objects.create(name="a")
    finally:
        post_save.disconnect(tag_on_remote, sender=Author)
    assert _actions() == [("testapp.author", ChangeLog.ADDITION)]
    remote = ChangeLog.objects.using("remote").values_list("model", "action")
    assert list(remote) == [("testapp.tag", ChangeLog.ADDITION)]


def test_a_post_save_sent_by_hand_logs_on_the_database_it_names():
    from django.db.models.signals import post_save

    author = Author.objects.create(name="a")
    post_save.send(sender=Author, instance=author, created=False, using="remote")
    remote = ChangeLog.objects.using("remote").values_list("model", "object_id", "action")
    assert list(remote) == [("testapp.author", str(author.pk), ChangeLog.CHANGE)]


def _raw_log_rows(alias):
    """The log rows of ``alias`` as the database holds them (dates as stored, not parsed)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT model, object_id, action, date, natural_key FROM synchro_changelog ORDER BY id"
        )
        return [tuple(row) for row in cursor.fetchall()]


@pytest.mark.parametrize("use_tz", [True, False])
@pytest.mark.parametrize("alias", ["default", "remote"])
def test_a_logged_save_writes_the_row_the_orm_would_write(alias, use_tz):
    """The receivers' own INSERTs store exactly what ``ChangeLog.objects.create`` stores.

    Saves (no natural key column), a deletion (with one) and an m2m change.
    """
    with override_settings(USE_TZ=use_tz):
        before = timezone.now()
        author = Author.objects.using(alias).create(name="a")
        author.name = "b"
        author.save()
        tag = Tag.objects.using(alias).create(name="t")
        Book.objects.using(alias).create(title="b", author=author).tags.add(tag)
        tag_pk = tag.pk
        tag.delete()
        after = timezone.now()
        entries = list(ChangeLog.objects.using(alias).order_by("id"))
        assert [(e.model, e.object_id, e.action) for e in entries[:3]] == [
            ("testapp.author", str(author.pk), ChangeLog.ADDITION),
            ("testapp.author", str(author.pk), ChangeLog.CHANGE),
            ("testapp.tag", str(tag_pk), ChangeLog.ADDITION),
        ]
        assert {e.action for e in entries} == {1, 2, 3, 4}
        assert entries[-1].natural_key == ["t"]
        assert all(before <= e.date <= after for e in entries)
        fast = _raw_log_rows(alias)
        ChangeLog.objects.using(alias).all().delete()
        for e in entries:
            ChangeLog.objects.using(alias).create(
                model=e.model, object_id=e.object_id, action=e.action, date=e.date, natural_key=e.natural_key
            )
        assert _raw_log_rows(alias) == fast


@pytest.mark.parametrize("use_tz", [True, False])
def test_log_date_is_now_as_the_backend_adapter_writes_it(use_tz):
    from synchro.handlers import log_date

    with override_settings(USE_TZ=use_tz):
        for alias in ("default", "remote"):
            connection = connections[alias]
            ops = connection.ops
            before = ops.adapt_datetimefield_value(timezone.now())
            date = log_date(connection)
            after = ops.adapt_datetimefield_value(timezone.now())
            assert type(date) is type(before)
            if isinstance(date, str):  # text columns (SQLite, MySQL): compare what is stored
                assert before[:19] <= date[:19] <= after[:19] and len(date) in (19, 26)
            else:
                assert before <= date <= after


def test_utc_text_is_what_the_sqlite_and_mysql_adapters_give():
    """Every kind of moment, each second's text reused and replaced, and time going backwards."""
    from django.db.backends.mysql.operations import DatabaseOperations as MySQLOperations
    from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations

    from synchro.handlers import utc_text

    class UTCConnection:
        timezone = datetime.timezone.utc

    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    moments = [
        datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc),
        datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc),
        datetime.datetime(2024, 3, 1, 0, 0, 0, tzinfo=datetime.timezone.utc),  # no microseconds
        datetime.datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=datetime.timezone.utc),
        datetime.datetime(2024, 2, 29, 23, 59, 59, 5, tzinfo=datetime.timezone.utc),  # back in time
        datetime.datetime(1999, 12, 31, 23, 0, 9, 100000, tzinfo=datetime.timezone.utc),
        datetime.datetime(2038, 1, 19, 3, 14, 8, 10, tzinfo=datetime.timezone.utc),
    ]
    with override_settings(USE_TZ=True):
        for ops_class in (SQLiteOperations, MySQLOperations):
            ops = ops_class(UTCConnection())
            for moment in moments:
                micros = (moment - epoch) // datetime.timedelta(microseconds=1)
                for extra_ns in (0, 1, 999):  # below a microsecond: floored, as datetime.now() does
                    assert utc_text(micros * 1000 + extra_ns) == ops.adapt_datetimefield_value(moment)


def test_a_database_with_its_own_time_zone_logs_its_local_time():
    """``DATABASES[...]["TIME_ZONE"]`` (text-dated databases only) is honoured, as the ORM does."""
    connection = connections["default"]
    if connection.features.supports_timezones:
        pytest.skip("TIME_ZONE per database is for backends without time zone support")
    zone_aware = ("timezone", "timezone_name")
    connection.settings_dict["TIME_ZONE"] = "Asia/Tokyo"
    for name in zone_aware:
        connection.__dict__.pop(name, None)
    try:
        before = timezone.now()
        Author.objects.create(name="in Tokyo")
        after = timezone.now()
        entry = ChangeLog.objects.get()
        assert before <= entry.date <= after  # read back in the database's zone: the same moment
        stored = _raw_log_rows("default")[0][3]
        assert str(stored)[:16] == str(entry.date.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")))[:16]
    finally:
        connection.settings_dict["TIME_ZONE"] = None
        for name in zone_aware:
            connection.__dict__.pop(name, None)
