"""Bad data end to end: malformed messages fail the task with a result; clear errors at send time."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from kombu.exceptions import EncodeError

from django_cereal.exceptions import InvalidReference, ModelNotAllowed, UnsavedInstanceError
from django_cereal.references import Reference
from tests import tasks
from tests.testapp.models import Author, Book

TIMEOUT = 60
EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
JSON = "application/x-django-cereal-json"
PICKLE = "application/x-django-cereal-pickle"


def json_body(*args) -> bytes:
    """A protocol-2 task body with ``args`` written as they are (markers included)."""
    return json.dumps([list(args), {}, EMBED]).encode()


def failure(result, send_after) -> BaseException:
    """The stored exception of a task that must have failed; ``send_after`` proves the worker got past it."""
    send_after.get(timeout=TIMEOUT)  # the solo worker handles messages in order
    assert result.state == "FAILURE", f"expected a failed task state, got {result.state}"
    with pytest.raises(Exception) as info:
        result.get(timeout=TIMEOUT)
    return info.value


@pytest.mark.parametrize(
    "marker",
    [
        {"__cereal__": 5},
        {"__cereal__": None},
        {"__cereal__": []},
        {"__cereal__": ["testapp.Book"]},
        {"__cereal_list__": 5},
        {"__cereal_list__": ["testapp.Book", 3]},
        {"__cereal_set__": None},
    ],
    ids=["int", "null", "empty", "no-pk", "list-int", "list-not-pks", "set-null"],
)
def test_malformed_marker_fails_the_task_naming_the_marker(send_raw, marker):
    result = send_raw("cereal.echo_json", JSON, json_body(marker))
    error = failure(result, tasks.echo_json.delay("after"))
    assert type(error).__name__ == "InvalidReference"
    assert f"Malformed django-cereal marker {json.dumps(marker)}" in str(error)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ({"__cereal__": ["testapp.Book", [1]]}, "must be hashable, not list [1]"),
        ({"__cereal__": ["testapp.Book", True]}, "cannot be True"),
        ({"__cereal__": ["testapp.Book", 1, 5]}, "database alias must be a non-empty string, not 5"),
        ({"__cereal__": [7, 1]}, "model label must be a non-empty string, not 7"),
        ({"__cereal_list__": ["testapp.Book", [1, {"a": 1}]]}, "must be hashable, not dict"),
        ({"__cereal__": ["testapp.Book", "abc"]}, "primary key 'abc', which is not a valid primary key"),
        ({"__cereal__": ["testapp.Book", 1, "nowhere"]}, "in database 'nowhere', which is not in DATABASES"),
    ],
    ids=[
        "unhashable-pk",
        "bool-pk",
        "int-alias",
        "int-label",
        "dict-pk-in-group",
        "text-pk",
        "unknown-alias",
    ],
)
def test_wrongly_typed_pks_and_aliases_fail_the_task_clearly(send_raw, marker, message):
    result = send_raw("cereal.echo_json", JSON, json_body(marker))
    error = failure(result, tasks.echo_json.delay("after"))
    assert type(error).__name__ == "InvalidReference"
    assert message in str(error)


def test_malformed_persistent_id_fails_the_pickle_task(send_raw):
    import io
    import pickle

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("testapp.Book",) if obj == "marker" else None

    buffer = io.BytesIO()
    Writer(buffer, 4).dump((("marker",), {}, EMBED))
    result = send_raw("cereal.echo_pickle", PICKLE, buffer.getvalue())
    error = failure(result, tasks.echo_json.delay("after"))
    assert type(error).__name__ == "InvalidReference"
    assert "Malformed django-cereal persistent id ('testapp.Book',)" in str(error)


def test_refused_delay_is_both_model_not_allowed_and_encode_error(worker):
    book = Book.objects.create(title="not allowed")
    with override_settings(DJANGO_CEREAL_ALLOWED_MODELS=["testapp.Author"]):
        for send in (tasks.echo_json.delay, tasks.echo_pickle.delay, lambda b: book.retitle.delay("!")):
            with pytest.raises(
                ModelNotAllowed, match="testapp.Book is not in DJANGO_CEREAL_ALLOWED_MODELS"
            ) as info:
                send(book)
            assert isinstance(info.value, EncodeError)
        assert tasks.echo_json.delay(Author.objects.create(name="fine")).get(timeout=TIMEOUT)


def test_unsaved_instance_is_both_unsaved_error_and_encode_error(worker):
    with pytest.raises(UnsavedInstanceError) as info:
        tasks.echo_json.delay(Book(title="new"))
    assert isinstance(info.value, EncodeError)


def test_missing_row_message_does_not_claim_when_it_was_deleted(worker):
    """A pk that never existed, and a row deleted before .delay(): the error must not say "after"."""
    never_saved = Book(pk=987654, title="never saved")
    deleted_before = Book.objects.create(title="deleted before")
    deleted_before_pk = deleted_before.pk
    Book.objects.filter(pk=deleted_before_pk).delete()
    for book, pk in ((never_saved, 987654), (deleted_before, deleted_before_pk)):
        with pytest.raises(Book.DoesNotExist) as info:
            tasks.echo_json.delay(book).get(timeout=TIMEOUT)
        text = str(info.value)
        assert f"testapp.Book pk={pk} (database 'default') was not found when the task started" in text
        assert "deleted before it was sent, or never saved with that primary key" in text
        assert "the row was deleted after the task was sent" not in text


def test_huge_missing_reference_list_is_summarized(worker, recorded_missing):
    count = 20_000  # the issue saw 200,000; the summary does not depend on the count
    pks = list(range(10**7, 10**7 + count))
    result = tasks.echo_json.delay([Book(pk=pk) for pk in pks])  # sent as one compact group
    with pytest.raises(Book.DoesNotExist) as info:
        result.get(timeout=TIMEOUT)
    text = str(info.value)
    assert len(text) < 600, f"{len(text)} characters"
    assert text.startswith(f"{count} rows: testapp.Book pk={pks[0]} (database 'default'), ")
    assert f"pk={pks[4]} (database 'default') and {count - 5} more were not found" in text
    assert len(recorded_missing[0]) == count  # the signal still gets every reference


@pytest.fixture
def recorded_missing():
    from django_cereal.signals import references_missing

    seen: list = []

    def on_missing(sender=None, references=None, **kw):
        seen.append(references)

    references_missing.connect(on_missing, weak=False)
    yield seen
    references_missing.disconnect(on_missing)


def test_reference_refuses_bad_parts_when_built():
    with pytest.raises(InvalidReference, match="must be hashable, not list"):
        Reference("testapp.Book", [1])
    with pytest.raises(InvalidReference, match="database alias must be a non-empty string, not None"):
        Reference("testapp.Book", 1, None)  # type: ignore[arg-type]
