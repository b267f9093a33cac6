"""old_rows(): a row's current values read with a SELECT compiled once, as the ORM would read them."""

from __future__ import annotations

import datetime
import decimal
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections, models, transaction
from django.utils import timezone

from cacheops.stored_rows import old_rows
from cacheops.transaction import is_dirty
from tests.testapp.models import Category, Document, Extra, Media, Movie, Post, Weird

pytestmark = pytest.mark.django_db(transaction=True)

APP = "oldrows_tests"  # not installed: the tables are made by the ``own_tables`` fixture


class UuidKeyed(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    rating = models.IntegerField(default=0)

    class Meta:
        app_label = APP


class UuidChild(UuidKeyed):
    note = models.CharField(max_length=16, default="")

    class Meta:
        app_label = APP


class CharKeyed(models.Model):
    code = models.CharField(max_length=16, primary_key=True)
    flag = models.BooleanField(null=True)
    amount = models.DecimalField(max_digits=12, decimal_places=4, null=True)
    when = models.DateTimeField(null=True)
    day = models.DateField(null=True)
    moment = models.TimeField(null=True)
    data = models.JSONField(null=True)
    spent = models.DurationField(null=True)
    ratio = models.FloatField(null=True)

    class Meta:
        app_label = APP


class VisibleManager(models.Manager):
    def get_queryset(self) -> Any:
        return super().get_queryset().filter(visible=True)


class Hideable(models.Model):
    visible = models.BooleanField(default=True)

    objects = VisibleManager()

    class Meta:
        app_label = APP
        base_manager_name = "objects"


OWN_MODELS = [UuidKeyed, UuidChild, CharKeyed, Hideable]


@pytest.fixture
def own_tables() -> Iterator[None]:
    with connection.schema_editor() as editor:
        for model in OWN_MODELS:
            editor.create_model(model)
    yield
    with connection.schema_editor() as editor:
        for model in reversed(OWN_MODELS):
            editor.delete_model(model)


def orm_rows(model: Any, pk: Any) -> list[dict[str, Any]]:
    """What the ORM reads for the row (the reference old_rows must match)."""
    attnames = [f.attname for f in model._meta.concrete_fields]
    qs = model._base_manager.filter(pk=pk).values_list(*attnames)
    qs._cacheops_ops = frozenset()
    return [dict(zip(attnames, row)) for row in qs]


def in_other_thread(func: Any) -> Any:
    """Run ``func`` in another thread (with its own database connection) and return its result."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(func())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return box[0]


FULL = {
    "flag": True,
    "amount": decimal.Decimal("1234.5670"),
    "when": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=datetime.timezone.utc),
    "day": datetime.date(2024, 2, 29),
    "moment": datetime.time(13, 14, 15, 160000),
    "data": {"a": [1, 2.5, None, "x"], "b": {"nested": True}},
    "spent": datetime.timedelta(days=2, seconds=7, microseconds=11),
    "ratio": 0.25,
}


@pytest.mark.parametrize(
    "values", [FULL, {"flag": False, "data": [1, "two"]}, {}], ids=["full", "some", "nulls"]
)
def test_values_equal_the_orms_per_field_type(own_tables: None, values: dict[str, Any]) -> None:
    CharKeyed.objects.create(code="k1", **values)
    rows = old_rows(CharKeyed, "k1", "default")
    assert rows == orm_rows(CharKeyed, "k1")
    row = rows[0]
    assert row["code"] == "k1"
    for name, value in values.items():
        assert row[name] == value
        assert type(row[name]) is type(value)
    for name in FULL.keys() - values.keys():
        assert row[name] is None


def test_aware_datetimes_come_back_aware_and_equal(own_tables: None) -> None:
    moment = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    CharKeyed.objects.create(code="tz", when=moment)
    (row,) = old_rows(CharKeyed, "tz", "default")
    assert timezone.is_aware(row["when"])
    assert row["when"] == moment


def test_naive_datetimes_without_use_tz(own_tables: None, settings: Any) -> None:
    old_rows(CharKeyed, "absent", "default")  # compiled while USE_TZ is on
    settings.USE_TZ = False
    moment = datetime.datetime(2030, 6, 1, 12, 0, 1)
    CharKeyed.objects.create(code="naive", when=moment)
    (row,) = old_rows(CharKeyed, "naive", "default")
    assert row["when"] == moment
    assert timezone.is_naive(row["when"])
    assert [row] == orm_rows(CharKeyed, "naive")


def test_uuid_primary_key_and_a_child_keyed_by_its_parent_link(own_tables: None) -> None:
    parent = UuidKeyed.objects.create(rating=3)
    child = UuidChild.objects.create(rating=4, note="n")
    assert old_rows(UuidKeyed, parent.pk, "default") == [{"id": parent.pk, "rating": 3}]
    # the parent's columns live in the parent's table and come back too
    assert old_rows(UuidChild, child.pk, "default") == [
        {"id": child.pk, "rating": 4, "uuidkeyed_ptr_id": child.pk, "note": "n"}
    ]
    assert old_rows(UuidChild, str(child.pk), "default") == orm_rows(UuidChild, child.pk)  # pk as text
    assert old_rows(UuidChild, parent.pk, "default") == []  # a parent row without a child


@pytest.mark.parametrize("model", [Post, Document, Extra, Movie, Media, Weird])
def test_models_of_the_test_app(model: Any) -> None:
    category = Category.objects.create(title="c")
    post = Post.objects.create(title="Hello", category=category, visible=False, rating=7)
    objects = {
        Post: post,
        Document: Document.objects.create(data={"k": [1, 2]}, blob=b"\x00\xff", is_deleted=True),
        Extra: Extra.objects.create(post=post, tag=42),  # a db_column of its own
        Movie: Movie.objects.create(name="Alien", year=1979),
        Media: Media.objects.create(name="plain"),
        Weird: Weird.objects.create(
            date_field=datetime.date(2001, 1, 2),
            datetime_field=timezone.now(),
            decimal_field=decimal.Decimal("3.10"),
            uuid_field=uuid.uuid4(),
            custom="x",
        ),
    }
    obj = objects[model]
    rows = old_rows(model, obj.pk, "default")
    assert rows == orm_rows(model, obj.pk)
    assert len(rows) == 1
    for attname, value in rows[0].items():
        if not isinstance(value, memoryview):
            assert value == getattr(obj, attname)


def test_absent_row_gives_nothing() -> None:
    assert old_rows(Post, 10**9, "default") == []


def test_primary_key_is_prepared_like_the_orm_does() -> None:
    post = Post.objects.create(title="t", category=Category.objects.create(title="c"))
    assert old_rows(Post, str(post.pk), "default") == old_rows(Post, post.pk, "default")
    with pytest.raises(ValueError):  # what the ORM says for such a key
        old_rows(Post, "not a number", "default")
    assert old_rows(Post, post.pk, "default")[0]["title"] == "t"  # and it still works afterwards


def test_a_filtering_base_manager_is_respected(own_tables: None) -> None:
    shown = Hideable.objects.create(visible=True)
    hidden = Hideable.objects.create(visible=True)
    Hideable.objects.filter(pk=hidden.pk).update(visible=False)
    assert old_rows(Hideable, shown.pk, "default") == [{"id": shown.pk, "visible": True}]
    assert old_rows(Hideable, hidden.pk, "default") == orm_rows(Hideable, hidden.pk) == []


def test_the_select_is_logged_and_run_through_the_connection(queries: Any) -> None:
    post = Post.objects.create(title="t", category=Category.objects.create(title="c"))
    old_rows(Post, post.pk, "default")
    with queries() as q:
        old_rows(Post, post.pk, "default")
    assert q.count == 1
    assert q.ctx.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_another_thread_reads_the_same_values(own_tables: None) -> None:
    CharKeyed.objects.create(code="t", **FULL)
    here = old_rows(CharKeyed, "t", "default")
    assert in_other_thread(lambda: old_rows(CharKeyed, "t", "default")) == here


def test_reading_old_rows_in_a_transaction_keeps_reads_cached(queries: Any) -> None:
    post = Post.objects.create(title="a", category=Category.objects.create(title="c"))
    assert [p.pk for p in Post.objects.filter(title="a")] == [post.pk]  # now cached
    with transaction.atomic():
        assert old_rows(Post, post.pk, "default")[0]["title"] == "a"
        assert not is_dirty("default")
        with queries() as q:
            assert [p.pk for p in Post.objects.filter(title="a")] == [post.pk]
        assert q.count == 0  # still served from the cache: the SELECT didn't count as a write


@pytest.fixture
def cached_own_models(own_tables: None, settings: Any, mode: str) -> None:
    settings.CACHEOPS = {**settings.CACHEOPS, f"{APP}.*": {"ops": "all"}}


def is_cached(queries: Any, func: Any) -> bool:
    with queries() as q:
        func()
    return q.count == 0


def test_save_drops_queries_matching_the_old_values_of_a_uuid_keyed_row(
    cached_own_models: None, queries: Any
) -> None:
    row = UuidKeyed.objects.create(rating=1)
    rated_one = lambda: UuidKeyed.objects.filter(rating=1).count()  # noqa: E731
    assert rated_one() == 1
    assert is_cached(queries, rated_one)
    fresh = UuidKeyed.objects.nocache().get(pk=row.pk)
    fresh.rating = 2
    fresh.save()
    assert rated_one() == 0


def test_save_of_a_child_drops_queries_on_the_parents_old_values(
    cached_own_models: None, queries: Any
) -> None:
    child = UuidChild.objects.create(rating=1, note="a")
    parents_rated_one = lambda: sorted(r.pk for r in UuidKeyed.objects.filter(rating=1))  # noqa: E731
    children_noted_a = lambda: UuidChild.objects.filter(note="a").count()  # noqa: E731
    assert parents_rated_one() == [child.pk]
    assert children_noted_a() == 1
    fresh = UuidChild.objects.nocache().get(pk=child.pk)
    fresh.rating = 2
    fresh.note = "b"
    fresh.save()
    assert parents_rated_one() == []
    assert children_noted_a() == 0
