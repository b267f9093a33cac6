"""Issue 21: the shapes that are stale in 7.2 (and were in ours), one test per shape, in classic,
insideout and both fast modes (the schema of tests/diffapp), and those the differential test
(tests/test_differential.py) found since.

Each test caches a read, makes one write through Django's signals, and compares the read
through the cache with the same read with ``.nocache()``. While a shape is open, its test is
marked ``xfail(strict=True)`` in the modes where it fails, so fixing it makes the test fail
until the mark is removed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, models
from django.db.models import Max, Q, Subquery

from tests.diffapp.models import (
    HOUSE_SERIES,
    Author,
    Book,
    Chapter,
    Loan,
    Profile,
    Publisher,
    Reader,
    Series,
    Tag,
)
from tests.test_differential import EVERY_MODE, use_mode

pytestmark = [pytest.mark.django_db(transaction=True)]

# shape -> modes it fails in today
OPEN: dict[str, tuple[str, ...]] = {}


def in_modes(shape: str) -> Any:
    """Parametrize a test over every mode, xfail(strict) where the shape is open."""
    reason = f"issue 21: {shape}"
    return pytest.mark.parametrize(
        "diff_mode",
        [
            pytest.param(
                mode,
                marks=[pytest.mark.xfail(strict=True, reason=reason)] if mode in OPEN.get(shape, ()) else [],
            )
            for mode in EVERY_MODE
        ],
    )


def same(read: Any) -> None:
    """``read(qs)`` through the cache equals it without (a list, a count, a dict, ...)."""
    cached = read(lambda model: model.objects.cache())
    uncached = read(lambda model: model.objects.nocache())
    assert cached == uncached


def pks(qs: Any) -> list[int]:
    return list(qs.order_by("pk").values_list("pk", flat=True))


@pytest.fixture
def world() -> dict[str, Any]:
    publisher = Publisher.objects.create(name="p")
    Series.objects.create(name=HOUSE_SERIES)
    series = Series.objects.create(name="s")
    author = Author.objects.create(name="a")
    book = Book.objects.create(
        title="b", author=author, publisher=publisher, printer=publisher, series=series
    )
    other = Book.objects.create(title="o", author=author, price=Decimal("1.00"))
    return {
        "publisher": publisher,
        "series": series,
        "author": author,
        "book": book,
        "other": other,
        "tag": Tag.objects.create(name="t"),
        "reader": Reader.objects.create(name="r"),
    }


# ------------------------------------------------------------------ the absence of related rows


@in_modes("absence of related rows")
@pytest.mark.parametrize("relation", ["reverse FK", "m2m"])
def test_filter_on_the_absence_of_related_rows(diff_mode, relation, settings, world):
    use_mode(settings, diff_mode)
    book, lookup = world["book"], "chapters__isnull" if relation == "reverse FK" else "tags__isnull"

    def read(objects: Any) -> list[int]:
        return pks(objects(Book).filter(**{lookup: True}))

    same(read)
    if relation == "reverse FK":
        Chapter.objects.create(book=book)
    else:
        book.tags.add(world["tag"])
    same(read)


# ------------------------------------------------------------------ exclude() / ~Q over m2m


@in_modes("exclude() over m2m")
@pytest.mark.parametrize("through", ["auto", "explicit"])
@pytest.mark.parametrize("change", ["add", "remove", "clear"])
def test_exclude_over_m2m(diff_mode, through, change, settings, world):
    use_mode(settings, diff_mode)
    book = world["book"]
    manager, other, lookup = (
        (book.tags, world["tag"], "tags") if through == "auto" else (book.readers, world["reader"], "readers")
    )
    if change != "add":
        manager.add(other)

    def read(objects: Any) -> tuple[list[int], list[int]]:
        return (
            pks(objects(Book).exclude(**{lookup: other.pk})),
            pks(objects(Book).filter(~Q(**{lookup: other.pk}))),
        )

    same(read)
    getattr(manager, change)(*([other] if change != "clear" else []))
    same(read)


# ------------------------------------------------------------------ prefetch over an explicit through


@in_modes("prefetch_related over an explicit-through m2m")
@pytest.mark.parametrize("change", ["m2m add", "m2m remove", "through row create", "through row delete"])
def test_prefetch_over_an_explicit_through(diff_mode, change, settings, world):
    use_mode(settings, diff_mode)
    book, reader = world["book"], world["reader"]
    if change in ("m2m remove", "through row delete"):
        book.readers.add(reader, through_defaults={"days": 1})

    def read(objects: Any) -> list[tuple[int, list[int]]]:
        books = objects(Book).prefetch_related("readers").order_by("pk")
        return [(b.pk, sorted(r.pk for r in b.readers.all())) for b in books]

    same(read)
    if change == "m2m add":
        book.readers.add(reader, through_defaults={"days": 2})
    elif change == "m2m remove":
        book.readers.remove(reader)
    elif change == "through row create":
        Loan.objects.create(book=book, reader=reader, days=3)
    else:
        Loan.objects.get(book=book, reader=reader).delete()
    same(read)


# ------------------------------------------------------------------ pk__in=<a query of another table>


@in_modes("pk__in=<queryset or Subquery over another table>")
@pytest.mark.parametrize("form", ["queryset", "Subquery"])
def test_pk_in_a_query_of_another_table(diff_mode, form, settings, world):
    use_mode(settings, diff_mode)
    book = world["book"]

    def read(objects: Any) -> list[int]:
        inner = Chapter.objects.filter(number=2).values("book")
        return pks(objects(Book).filter(pk__in=inner if form == "queryset" else Subquery(inner)))

    same(read)
    Chapter.objects.create(book=book, number=2)
    same(read)


# ------------------------------------------------------------------ on_delete=SET_NULL/SET_DEFAULT/SET(...)


@in_modes("on_delete=SET_NULL/SET_DEFAULT/SET(...)")
@pytest.mark.parametrize("on_delete", ["SET_NULL", "SET_DEFAULT", "SET(...)"])
def test_on_delete_set(diff_mode, on_delete, settings, world):
    use_mode(settings, diff_mode)
    field, target = {
        "SET_NULL": ("publisher", world["publisher"]),
        "SET_DEFAULT": ("printer", world["publisher"]),
        "SET(...)": ("series", world["series"]),
    }[on_delete]
    pk = target.pk

    def read(objects: Any) -> tuple[list[int], list[int], list[int]]:
        return (
            pks(objects(Book).filter(**{field: pk})),
            pks(objects(Book).filter(**{f"{field}__isnull": True})),
            pks(objects(Book).filter(**{f"{field}__name": HOUSE_SERIES})),
        )

    same(read)
    target.delete()  # the collector changes the books' column with one UPDATE, no signals
    same(read)


@in_modes("on_delete=SET_NULL/SET_DEFAULT/SET(...) with the mass-write setting")
@pytest.mark.parametrize("on_delete", ["SET_NULL", "SET_DEFAULT", "SET(...)"])
@pytest.mark.parametrize("delete", ["instance", "queryset"])
def test_on_delete_set_with_the_mass_write_setting(diff_mode, on_delete, delete, settings, world):
    """The README promises that with CACHEOPS_INVALIDATE_BULK the collector's UPDATE is covered."""
    use_mode(settings, diff_mode)
    settings.CACHEOPS_INVALIDATE_BULK = True
    field, target = {
        "SET_NULL": ("publisher", world["publisher"]),
        "SET_DEFAULT": ("printer", world["publisher"]),
        "SET(...)": ("series", world["series"]),
    }[on_delete]
    pk = target.pk

    def read(objects: Any) -> tuple[list[int], list[int]]:
        return pks(objects(Book).filter(**{field: pk})), pks(
            objects(Book).filter(**{f"{field}__isnull": True})
        )

    same(read)
    if delete == "instance":
        target.delete()
    else:
        type(target).objects.filter(pk=pk).delete()
    same(read)


# ------------------------------------------------------------------ aggregates over a reverse one-to-one


@in_modes("aggregates over a reverse one-to-one")
@pytest.mark.parametrize("write", ["invalidated_update", "delete"])
def test_aggregate_over_a_reverse_one_to_one(diff_mode, write, settings, world):
    use_mode(settings, diff_mode)
    profile = Profile.objects.create(author=world["author"], score=5)

    def read(objects: Any) -> dict[str, Any]:
        return objects(Author).aggregate(top=Max("profile__score"))

    same(read)
    if write == "invalidated_update":
        Profile.objects.filter(pk=profile.pk).invalidated_update(score=7)
    else:
        profile.delete()
    same(read)


# ------------------------------------------------------------------ select_related of a reverse one-to-one


@in_modes("select_related across a one-to-one")
@pytest.mark.parametrize("direction", ["reverse", "forward"])
def test_select_related_across_a_one_to_one(diff_mode, direction, settings, world):
    """Fast modes copy the related objects of a result; across a one-to-one Django caches both
    sides (author -> profile -> author), whichever side was selected."""
    use_mode(settings, diff_mode)
    profile = Profile.objects.create(author=world["author"], score=5)
    Author.objects.create(name="without a profile")

    def score(author: Author) -> int | None:
        try:
            return author.profile.score
        except Profile.DoesNotExist:
            return None

    def read(objects: Any) -> list[tuple[int, int | None]]:
        if direction == "reverse":
            return [(a.pk, score(a)) for a in objects(Author).select_related("profile").order_by("pk")]
        return [(p.author.pk, p.score) for p in objects(Profile).select_related("author").order_by("pk")]

    same(read)
    same(read)  # the second read is a hit (fast modes: the copy kept in memory)
    profile.score = 6
    profile.save()
    same(read)


# ------------------------------------------------------------------ found by the differential test


@in_modes("a queryset evaluated, then chained")
@pytest.mark.parametrize("order", ["profile__score", "mentor__name"])
def test_a_queryset_evaluated_then_chained(diff_mode, order, settings, world):
    """Compiling a query adds the joins of its ordering and leaves them in the query with no
    reference counted: a clone of an evaluated queryset reads the joined table all the same."""
    use_mode(settings, diff_mode)
    first = Author.objects.create(name="b", rank=1, mentor=world["author"])
    second = Author.objects.create(name="c", rank=1, mentor=first)
    Profile.objects.create(author=first, score=1)
    profile = Profile.objects.create(author=second, score=2)

    def read(objects: Any) -> list[int]:
        qs = objects(Author).filter(rank=1).order_by(order, "pk")
        list(qs)  # evaluated: the query is compiled
        return list(qs.all().values_list("pk", flat=True))  # another query, chained from it

    same(read)
    if order == "profile__score":
        profile.score = 0
        profile.save()
    else:
        mentor = world["author"]
        mentor.name = "z"
        mentor.save()
    same(read)


@in_modes("save(update_fields=...) with other fields changed in memory")
def test_save_update_fields_with_other_fields_changed_in_memory(diff_mode, settings, world):
    """Only the fields named are written: the row in the database keeps the others' values."""
    use_mode(settings, diff_mode)
    book = world["book"]

    def read(objects: Any) -> list[int]:
        return pks(objects(Book).filter(title="b", price=Decimal("7")))

    same(read)
    book.title = "not saved"
    book.price = Decimal("7")
    book.save(update_fields=["price"])
    same(read)


# ------------------------------------------------------------------ on_delete done by the database

if hasattr(models, "DB_CASCADE"):  # Django 6.1: the database deletes or updates the referring rows

    class Shelf(models.Model):
        name = models.CharField(max_length=20)

        class Meta:
            app_label = "diffapp"

    class Slot(models.Model):
        shelf = models.ForeignKey(Shelf, on_delete=models.DB_CASCADE, related_name="slots")

        class Meta:
            app_label = "diffapp"

    class Label(models.Model):
        slot = models.ForeignKey(Slot, null=True, on_delete=models.DB_SET_NULL, related_name="labels")

        class Meta:
            app_label = "diffapp"

    DB_MODELS: list[Any] = [Shelf, Slot, Label]
else:
    DB_MODELS = []


@pytest.fixture
def shelves() -> Any:
    """The tables of the models above, for one test (they are not part of diffapp's migrations:
    the models exist on Django 6.1 only)."""
    with connection.schema_editor() as editor:
        for model in DB_MODELS:
            editor.create_model(model)
    yield
    with connection.schema_editor() as editor:
        for model in reversed(DB_MODELS):
            editor.delete_model(model)


@pytest.mark.skipif(not DB_MODELS, reason="on_delete=DB_CASCADE and DB_SET_NULL are new in Django 6.1")
@in_modes("on_delete=DB_CASCADE/DB_SET_NULL (Django 6.1)")
@pytest.mark.parametrize("delete", ["instance", "queryset"])
def test_on_delete_done_by_the_database(diff_mode, delete, settings, shelves):
    """Django neither collects nor signals the rows the database deletes (DB_CASCADE) or updates
    (DB_SET_NULL, here of the rows of a table two steps away): the collector knows the relations."""
    use_mode(settings, diff_mode)
    shelf = Shelf.objects.create(name="s")
    slot = Slot.objects.create(shelf=shelf)
    Label.objects.create(slot=slot)

    def read(objects: Any) -> tuple[int, list[int], list[int]]:
        return (
            objects(Slot).count(),
            pks(objects(Label).filter(slot__isnull=True)),
            pks(objects(Label).filter(slot=slot.pk)),
        )

    same(read)
    if delete == "instance":
        shelf.delete()
    else:
        Shelf.objects.filter(pk=shelf.pk).delete()
    same(read)
