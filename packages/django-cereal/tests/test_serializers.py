"""Encoding and decoding on their own: what goes on the wire, and what decoding does (and doesn't) do."""

from __future__ import annotations

import datetime
import decimal
import pickle
import threading
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from kombu import serialization
from kombu.exceptions import ContentDisallowed

from django_cereal import json as cereal_json
from django_cereal import pickle as cereal_pickle
from django_cereal.arguments import LazyArgs
from django_cereal.exceptions import ModelNotAllowed, UnknownModelError, UnsavedInstanceError
from django_cereal.references import Reference
from tests.testapp.models import Author, Book, Country, Restaurant, Token

SERIALIZERS = [cereal_pickle, cereal_json]
pytestmark = pytest.mark.django_db


def body(*args, **kwargs):
    """A Celery protocol-2 body."""
    return (args, kwargs, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})


def test_registered_with_kombu_under_every_name():
    registry = serialization.registry
    assert registry.name_to_type["django-cereal-pickle"] == "application/x-django-cereal-pickle"
    assert registry.name_to_type["django_cereal_pickle"] == "application/x-django-cereal-pickle"
    assert registry.name_to_type["django-cereal-json"] == "application/x-django-cereal-json"
    assert registry._decoders["application/x-django-cereal-pickle"] is cereal_pickle.loads
    assert registry._decoders["application/x-django-cereal-json"] is cereal_json.loads
    # kombu's own pickle decoder is still kombu's
    assert registry._decoders["application/x-python-serialize"] is serialization.unpickle
    assert cereal_pickle.DJANGO_CEREAL_PICKLE == "django-cereal-pickle"
    assert cereal_json.DJANGO_CEREAL_JSON == "django-cereal-json"


@pytest.mark.parametrize("codec", SERIALIZERS, ids=["pickle", "json"])
def test_payload_holds_no_field_values(codec):
    book = Book.objects.create(title="A Very Secret Title", pages=4242)
    payload = codec.dumps(body(book, note="visible"))
    raw = payload if isinstance(payload, bytes) else payload.encode()
    assert b"visible" in raw
    assert b"A Very Secret Title" not in raw
    assert b"4242" not in raw
    assert b"testapp.Book" in raw


@pytest.mark.parametrize("codec", SERIALIZERS, ids=["pickle", "json"])
def test_decoding_never_queries_and_never_fails_for_a_deleted_row(codec):
    book = Book.objects.create(title="gone soon")
    payload = codec.dumps(body(book))
    Book.objects.filter(pk=book.pk).delete()
    with CaptureQueriesContext(connections["default"]) as queries:
        args, kwargs, embed = codec.loads(payload)
        args, kwargs, embed = codec.loads(payload)  # Celery decodes twice
    assert len(queries) == 0
    assert "gone soon" not in repr(args)
    with pytest.raises(
        Book.DoesNotExist,
        match=r"testapp.Book pk=\d+ \(database 'default'\) was not found when the task started",
    ):
        list(args)


@pytest.mark.parametrize("codec", SERIALIZERS, ids=["pickle", "json"])
def test_one_query_per_model_class(codec):
    books = [Book(title=f"b{i}") for i in range(100)]
    Book.objects.bulk_create(books)
    books = list(Book.objects.order_by("pk"))
    authors = [Author.objects.create(name=f"a{i}") for i in range(3)]
    args, kwargs, _ = codec.loads(codec.dumps(body(books, first=books[0], authors=authors)))
    with CaptureQueriesContext(connections["default"]) as queries:
        (loaded,) = list(args)
        loaded_kwargs = dict(kwargs)
    assert len(queries) == 2  # one for Book, one for Author
    assert [b.title for b in loaded] == [f"b{i}" for i in range(100)]
    assert loaded_kwargs["first"] is loaded[0]  # one fresh instance per row
    assert [a.name for a in loaded_kwargs["authors"]] == ["a0", "a1", "a2"]


@pytest.mark.parametrize("codec", SERIALIZERS, ids=["pickle", "json"])
def test_unsaved_instance_is_refused_when_encoding(codec):
    with pytest.raises(UnsavedInstanceError, match="unsaved testapp.Book instance.*primary key is None"):
        codec.dumps(body(Book(title="never saved")))


def test_json_keeps_kombu_types_and_handles_sets_and_nesting():
    book = Book.objects.create(title="t")
    token = Token.objects.create(label="tok")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    payload = cereal_json.dumps(
        body(
            {"when": when, "price": decimal.Decimal("1.10"), "id": uuid.UUID(int=7)}, {book, token}, [[book]]
        )
    )
    args, _, _ = cereal_json.loads(payload)
    values, loaded_set, nested = list(args)
    assert values == {"when": when, "price": decimal.Decimal("1.10"), "id": uuid.UUID(int=7)}
    assert {type(obj) for obj in loaded_set} == {Book, Token}
    assert nested[0][0] in loaded_set


def test_pickle_keeps_containers_and_dict_keys():
    book = Book.objects.create(title="key")
    country = Country.objects.create(code="nz", name="New Zealand")
    args, kwargs, _ = cereal_pickle.loads(
        cereal_pickle.dumps(body((book, country), {book: "v"}, frozenset({country})))
    )
    pair, mapping, frozen = list(args)
    assert isinstance(pair, tuple) and pair[0].title == "key" and pair[1].name == "New Zealand"
    assert list(mapping) == [pair[0]] and isinstance(frozen, frozenset)


@pytest.mark.parametrize("codec", SERIALIZERS, ids=["pickle", "json"])
def test_queryset_arrives_as_list_of_fresh_instances_in_order(codec):
    for title in ["c", "a", "b"]:
        Book.objects.create(title=title)
    qs = Book.objects.filter(title__in=["a", "b", "c"]).order_by("title")
    args, _, _ = codec.loads(
        codec.dumps(body(qs, Book.objects.values_list("title", flat=True).order_by("title")))
    )
    Book.objects.filter(title="b").update(pages=99)
    loaded, titles = list(args)
    assert isinstance(loaded, list)
    assert [(b.title, b.pages) for b in loaded] == [("a", 0), ("b", 99), ("c", 0)]
    assert list(titles) == ["a", "b", "c"]


def test_plain_pickle_untouched_while_another_thread_encodes():
    """The original patched Model.__reduce__ process-wide while encoding; this must never happen."""
    books = [Book.objects.create(title=f"full {i}", pages=i) for i in range(50)]
    stop = threading.Event()
    started = threading.Event()
    errors: list[BaseException] = []

    def encode_forever():
        try:
            while not stop.is_set():
                cereal_pickle.dumps(body(books))
                started.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    encoder = threading.Thread(target=encode_forever)
    encoder.start()
    assert started.wait(timeout=60)
    try:
        for i in range(300):
            book = books[i % 50]
            copy = pickle.loads(pickle.dumps(book))
            assert type(copy) is Book and copy.title == book.title and copy.pages == book.pages
            content_type, encoding, data = serialization.dumps(book, serializer="pickle")
            assert content_type == "application/x-python-serialize"
            kombu_copy = serialization.loads(data, content_type, encoding, accept={content_type})
            assert kombu_copy.title == book.title
    finally:
        stop.set()
        encoder.join()
    assert errors == []


def test_json_only_consumer_refuses_pickle_payload():
    book = Book.objects.create(title="x")
    content_type, encoding, payload = serialization.dumps(body(book), serializer="django-cereal-pickle")
    assert content_type == "application/x-django-cereal-pickle"
    accept = serialization.prepare_accept_content(["json", "django-cereal-json"])
    with pytest.raises(ContentDisallowed, match="django-cereal-pickle|x-django-cereal-pickle"):
        serialization.loads(payload, content_type, encoding, accept=accept)


def test_allow_list_is_enforced_when_sending_and_when_loading():
    book = Book.objects.create(title="x")
    author = Author.objects.create(name="y")
    payload = cereal_json.dumps(body(book))
    with override_settings(DJANGO_CEREAL_ALLOWED_MODELS=["testapp.Author"]):
        cereal_json.dumps(body(author))
        with pytest.raises(ModelNotAllowed, match="testapp.Book is not in DJANGO_CEREAL_ALLOWED_MODELS"):
            cereal_json.dumps(body(book))
        args, _, _ = cereal_json.loads(payload)
        with pytest.raises(ModelNotAllowed, match="testapp.Book"):
            list(args)
    with override_settings(DJANGO_CEREAL_ALLOWED_MODELS=["testapp"]):
        assert list(cereal_json.loads(payload)[0])[0] == book


def test_unknown_model_is_a_clear_error():
    args, _, _ = cereal_json.loads(cereal_json.dumps(body(Reference("nope.Missing", 1))))
    with pytest.raises(UnknownModelError, match="'nope.Missing'.*not installed"):
        list(args)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_CEREAL_MISSING", "ignore", "DJANGO_CEREAL_MISSING must be one of 'raise', 'none', 'skip'"),
        ("DJANGO_CEREAL_ALLOWED_MODELS", "testapp", "DJANGO_CEREAL_ALLOWED_MODELS must be None or a list"),
    ],
)
def test_bad_settings_name_the_setting(name, value, message):
    Book.objects.create(title="x")
    args, _, _ = cereal_json.loads(cereal_json.dumps(body(Book.objects.get())))
    with override_settings(**{name: value}):
        Book.objects.all().delete()
        with pytest.raises(ImproperlyConfigured, match=message):
            list(args)


def test_missing_policy_none_setting_gives_none():
    book = Book.objects.create(title="x")
    args, kwargs, _ = cereal_pickle.loads(cereal_pickle.dumps(body(book, other=book)))
    book.delete()
    with override_settings(DJANGO_CEREAL_MISSING="none"):
        assert list(args) == [None] and dict(kwargs) == {"other": None}


def test_references_keep_pk_types_and_classes():
    token = Token.objects.create(label="u")
    country = Country.objects.create(code="fr", name="France")
    restaurant = Restaurant.objects.create(name="Chez", serves_pizza=True)
    for codec in SERIALIZERS:
        args, _, _ = codec.loads(codec.dumps(body(token, country, restaurant)))
        t, c, r = list(args)
        assert (type(t), t.pk, t.label) == (Token, token.pk, "u")
        assert (type(c), c.pk) == (Country, "fr")
        assert (type(r), r.serves_pizza, r.name) == (Restaurant, True, "Chez")


def test_lazy_arguments_reencode_as_references():
    """A retry re-sends the decoded arguments: they must go out as references again."""
    book = Book.objects.create(title="x")
    args, kwargs, _ = cereal_pickle.loads(cereal_pickle.dumps(body(book)))
    assert isinstance(args, LazyArgs)
    again = cereal_pickle.dumps(body(args, kwargs))
    assert b"testapp.Book" in again and b'"x"' not in again
    assert cereal_json.dumps(body(*tuple.__iter__(args))).count("__cereal__") == 1
    assert Reference("testapp.Book", book.pk).load() == book


@pytest.mark.parametrize("task_name", ["echo_json", "echo_pickle"])
def test_eager_mode_goes_through_the_serializer(celery_app, task_name):
    """With task_always_eager Celery encodes and decodes the arguments with the task's serializer."""
    from tests import tasks

    task = getattr(tasks, task_name)
    book = Book.objects.create(title="eager")
    celery_app.conf.task_always_eager = True
    try:
        result = task.delay([book], key=book)
        with pytest.raises(Exception, match="unsaved testapp.Book instance"):
            task.delay(Book(title="unsaved"))
    finally:
        celery_app.conf.task_always_eager = False
    seen = result.get()
    assert seen["args"][0]["list"][0]["fields"]["title"] == "eager"
    assert seen["kwargs"]["key"]["id"] == seen["args"][0]["list"][0]["id"]


def test_version_is_a_named_tuple_as_in_0_2_1():
    import django_cereal

    assert django_cereal.VERSION[:3] == (
        django_cereal.VERSION.major,
        django_cereal.VERSION.minor,
        django_cereal.VERSION.micro,
    )
    assert django_cereal.__version__.startswith(".".join(map(str, django_cereal.VERSION[:3])))
    assert django_cereal.pickle.model_encode is django_cereal.pickle.dumps
    assert django_cereal.pickle.model_decode is django_cereal.pickle.loads


def test_django_tasks_module_needs_django_6():
    """On Django 5.2 the django.tasks support says what it needs instead of failing obscurely."""
    import importlib

    import django

    if django.VERSION >= (6, 0):
        assert importlib.import_module("django_cereal.django_tasks").task
    else:
        with pytest.raises(ImportError, match=r"needs Django 6\.0 or later .*this is Django 5\.2"):
            importlib.import_module("django_cereal.django_tasks")
