"""Model instances as django.tasks arguments: Django's ImmediateBackend, django-tasks-db's DatabaseBackend."""

from __future__ import annotations

import signal

import django
import pytest
from django.core.management import call_command

from tests.testapp.models import Author, Book

pytestmark = [
    pytest.mark.skipif(
        django.VERSION < (6, 0), reason="django.tasks is new in Django 6.0; this is Django 5.2"
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def djtasks():
    from tests import djtasks

    return djtasks


def run_db_worker() -> None:
    """django-tasks-db's worker, in this process: run every queued task, then stop."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        call_command(
            "db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--backend", "db",
            "--no-reload", "--verbosity", "0",
        )  # fmt: skip
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_plain_django_task_refuses_a_model():
    """What django-cereal adds: Django's own task framework takes JSON arguments only."""
    from django.tasks import task

    from tests import djtasks

    plain = task(djtasks.describe)
    with pytest.raises(TypeError, match="Unsupported type"):
        plain.enqueue(Book.objects.create(title="x"))


def test_immediate_backend_gets_fresh_instances(djtasks):
    book = Book.objects.create(title="immediate")
    authors = [Author.objects.create(name=n) for n in ("a", "b")]
    result = djtasks.immediate.enqueue(book, authors=authors, note="hi")
    assert result.status == "SUCCESSFUL", result.errors
    assert result.return_value == {
        "book": {"pk": book.pk, "title": "immediate", "type": "Book"},
        "authors": ["a", "b"],
        "note": "hi",
    }
    assert result.args == [{"__cereal__": ["testapp.Book", book.pk]}]  # stored as a reference
    assert result.kwargs["authors"] == {"__cereal_list__": ["testapp.Author", [a.pk for a in authors]]}


def test_database_backend_runs_with_rows_read_when_the_task_starts(djtasks):
    book = Book.objects.create(title="before")
    others = [Book.objects.create(title=f"o{i}") for i in range(3)]
    result = djtasks.queued.enqueue(book, others)
    Book.objects.filter(pk=book.pk).update(title="after")  # changed while queued
    run_db_worker()
    result.refresh()
    assert result.status == "SUCCESSFUL", [e.traceback for e in result.errors]
    assert result.return_value == {
        "book": {"pk": book.pk, "title": "after", "type": "Book"},
        "titles": ["o0", "o1", "o2"],
    }


def test_database_backend_missing_row_policies(djtasks):
    doomed = Book.objects.create(title="doomed")
    failing = djtasks.queued.enqueue(doomed, [])
    as_none = djtasks.queued_or_none.enqueue(doomed)
    doomed.delete()
    run_db_worker()
    failing.refresh()
    as_none.refresh()
    assert failing.status == "FAILED"
    (error,) = failing.errors
    assert error.exception_class_path == "tests.testapp.models.Book.DoesNotExist"
    assert (
        f"testapp.Book pk={failing.args[0]['__cereal__'][1]} (database 'default') was not found"
        in error.traceback
    )
    assert as_none.status == "SUCCESSFUL" and as_none.return_value is None


def test_database_backend_passes_the_context_through(djtasks):
    book = Book.objects.create(title="ctx")
    result = djtasks.with_context.enqueue(book)
    run_db_worker()
    result.refresh()
    assert result.status == "SUCCESSFUL", [e.traceback for e in result.errors]
    assert result.return_value == [1, "ctx"]


def test_refused_model_is_an_error_at_enqueue(djtasks, settings):
    from django_cereal.exceptions import ModelNotAllowed

    settings.DJANGO_CEREAL_ALLOWED_MODELS = ["testapp.Author"]
    with pytest.raises(ModelNotAllowed, match="testapp.Book is not in DJANGO_CEREAL_ALLOWED_MODELS"):
        djtasks.immediate.enqueue(Book.objects.create(title="x"), authors=[])


def test_direct_call_and_codec(djtasks):
    from django_cereal.django_tasks import decode_arguments, encode_arguments

    book = Book.objects.create(title="direct")
    assert djtasks.immediate.call(book, authors=[])["book"]["title"] == "direct"
    args, kwargs = encode_arguments((book,), {"n": 1})
    assert encode_arguments(args, kwargs) == (args, kwargs)  # encoding is idempotent
    Book.objects.filter(pk=book.pk).update(title="re-read")
    assert decode_arguments(args, kwargs) == ((book,), {"n": 1})
    assert decode_arguments(args, kwargs)[0][0].title == "re-read"


def test_task_keeps_its_options_when_copied(djtasks):
    import pickle

    from django.tasks import Task

    assert djtasks.queued_or_none.using(priority=0).cereal_missing == "none"
    if hasattr(Task, "_reconstruct"):  # Django 6.1 made tasks picklable (by reference to the task)
        copy = pickle.loads(pickle.dumps(djtasks.queued_or_none))
        assert copy == djtasks.queued_or_none and copy.cereal_missing == "none"


def test_async_enqueue_and_call(djtasks):
    from asgiref.sync import async_to_sync

    book = Book.objects.create(title="async")
    result = async_to_sync(djtasks.immediate.aenqueue)(book, authors=[])
    assert result.status == "SUCCESSFUL", result.errors
    assert result.return_value["book"]["title"] == "async"
    Book.objects.filter(pk=book.pk).update(title="async again")
    assert async_to_sync(djtasks.immediate.acall)(book, authors=[])["book"]["title"] == "async again"
