"""End to end through the real broker and a real worker: send, change the rows, let the worker run."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import uuid

import pytest
from celery import Celery, chain
from celery.signals import task_failure, task_postrun
from django.db import transaction
from django.test import override_settings
from kombu.exceptions import EncodeError

from django_cereal.json import DJANGO_CEREAL_JSON
from django_cereal.pickle import DJANGO_CEREAL_PICKLE
from django_cereal.signals import references_missing
from tests import tasks
from tests.testapp.models import Book, BookProxy, Country, Restaurant, Secret, Token

TIMEOUT = 60


@pytest.fixture
def recorded():
    """Record task_failure, task_postrun and references_missing as the worker sends them."""
    events: dict[str, list] = {"failure": [], "postrun": [], "missing": []}

    def on_failure(sender=None, exception=None, **kw):
        events["failure"].append((sender.name, exception))

    def on_postrun(sender=None, state=None, **kw):
        events["postrun"].append((sender.name, state))

    def on_missing(sender=None, references=None, policy=None, task=None, **kw):
        events["missing"].append((references, policy))

    task_failure.connect(on_failure, weak=False)
    task_postrun.connect(on_postrun, weak=False)
    references_missing.connect(on_missing, weak=False)
    yield events
    task_failure.disconnect(on_failure)
    task_postrun.disconnect(on_postrun)
    references_missing.disconnect(on_missing)


def fields(result):
    return result["fields"]


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda book: tasks.echo_pickle.delay(book), id="pickle-task"),
        pytest.param(lambda book: tasks.echo_json.delay(book), id="json-task"),
        pytest.param(
            lambda book: tasks.echo_plain.apply_async((book,), serializer=DJANGO_CEREAL_PICKLE),
            id="per-call-pickle",
        ),
        pytest.param(
            lambda book: tasks.echo_plain.apply_async((book,), serializer=DJANGO_CEREAL_JSON),
            id="per-call-json",
        ),
        pytest.param(
            lambda book: tasks.echo_plain.apply_async((book,), serializer="django_cereal_pickle"),
            id="old-name",
        ),
    ],
)
def test_worker_sees_the_row_as_it_is_when_the_task_starts(held_worker, send):
    book = Book.objects.create(title="before", pages=1)
    with held_worker():
        result = send(book)
        Book.objects.filter(pk=book.pk).update(title="after", pages=2)
    seen = result.get(timeout=TIMEOUT)["args"][0]
    assert seen["model"] == "testapp.Book"
    assert fields(seen) == {"id": str(book.pk), "title": "after", "pages": "2"}


def test_app_task_with_serializer_option(held_worker):
    """The documented form: ``@app.task(serializer=DJANGO_CEREAL_...)`` with no django-cereal decorator."""
    book = Book.objects.create(title="before")
    with held_worker():
        result = tasks.echo_app_task.delay(book)
        Book.objects.filter(pk=book.pk).update(title="after")
    assert fields(result.get(timeout=TIMEOUT))["title"] == "after"


@pytest.mark.parametrize("setting", ["django-cereal-pickle", "django_cereal_pickle", "django-cereal-json"])
def test_task_serializer_setting(worker, celery_app, setting):
    """``CELERY_TASK_SERIALIZER`` in Django settings, read by an app configured the usual Django way."""
    book = Book.objects.create(title="by setting")
    with override_settings(CELERY_TASK_SERIALIZER=setting):
        sender = Celery("sender", set_as_current=False)
        sender.config_from_object("django.conf:settings", namespace="CELERY")
        sender.conf.broker_url = celery_app.conf.broker_url
        sender.conf.result_backend = celery_app.conf.result_backend
        assert sender.conf.task_serializer == setting
        try:
            result = sender.send_task(
                "cereal.echo_plain", args=[book], queue=celery_app.conf.task_default_queue
            )
            seen = result.get(timeout=TIMEOUT)
        finally:
            sender.close()
    assert fields(seen["args"][0])["title"] == "by setting"


@pytest.mark.parametrize("serializer", [DJANGO_CEREAL_PICKLE, DJANGO_CEREAL_JSON])
def test_payload_on_the_broker_holds_references_only(
    celery_app, broker_message, serializer, transactional_db
):
    book = Book.objects.create(title="Top Secret Field Value", pages=31337)
    queue = f"cereal-inspect-{uuid.uuid4().hex[:8]}"
    tasks.echo_plain.apply_async((book,), {"other": book}, serializer=serializer, queue=queue)
    content_type, raw = broker_message(queue)
    assert content_type == f"application/x-{serializer}"
    assert b"testapp.Book" in raw
    assert b"Top Secret Field Value" not in raw and b"31337" not in raw


def test_nested_containers(held_worker):
    a = Book.objects.create(title="a")
    b = Book.objects.create(title="b")
    with held_worker():
        result = tasks.echo_pickle.delay([a, (b, {"k": a})], {b}, key={"x": [a]})
        Book.objects.filter(pk=a.pk).update(title="a2")
    seen = result.get(timeout=TIMEOUT)
    first, second = seen["args"]
    a_seen = first["list"][0]
    b_seen = first["list"][1]["tuple"][0]
    assert fields(a_seen)["title"] == "a2" and fields(b_seen)["title"] == "b"
    assert first["list"][1]["tuple"][1]["dict"][0][1]["id"] == a_seen["id"]  # the same fresh instance
    assert fields(second["set"][0])["title"] == "b"
    assert fields(seen["kwargs"]["key"]["dict"][0][1]["list"][0])["title"] == "a2"


@pytest.mark.parametrize("task", [tasks.echo_pickle, tasks.echo_json], ids=["pickle", "json"])
def test_deleted_row_fails_the_task_by_default(held_worker, recorded, task):
    book = Book.objects.create(title="doomed")
    with held_worker():
        result = task.delay(book)
        book_pk = book.pk
        book.delete()
    with pytest.raises(Exception) as info:
        result.get(timeout=TIMEOUT)
    tasks.echo_json.delay("drain").get(timeout=TIMEOUT)  # signals after storing the result are sent by now
    assert type(info.value).__name__ == "DoesNotExist"
    assert f"testapp.Book pk={book_pk}" in str(info.value)
    assert result.state == "FAILURE"
    assert [(name, type(exc).__name__) for name, exc in recorded["failure"]] == [(task.name, "DoesNotExist")]
    assert isinstance(recorded["failure"][0][1], Book.DoesNotExist)
    assert recorded["missing"][0][1] == "raise"


def test_deleted_row_in_kwargs_only_fails_with_does_not_exist(held_worker):
    """The error surfaces while Python unpacks ``**kwargs``; it must stay DoesNotExist, not a TypeError."""
    book = Book.objects.create(title="doomed")
    with held_worker():
        result = tasks.echo_pickle.delay(book=book)
        book.delete()
    with pytest.raises(Exception) as info:
        result.get(timeout=TIMEOUT)
    assert type(info.value).__name__ == "DoesNotExist"


def test_deleted_row_becomes_none_with_task_option(held_worker):
    book = Book.objects.create(title="doomed")
    kept = Book.objects.create(title="kept")
    with held_worker():
        result = tasks.missing_none.delay(book, other=kept)
        book.delete()
    seen = result.get(timeout=TIMEOUT)
    assert seen["book"] is None and fields(seen["other"])["title"] == "kept"


def test_deleted_row_becomes_none_with_setting(held_worker):
    book = Book.objects.create(title="doomed")
    with override_settings(DJANGO_CEREAL_MISSING="none"):
        with held_worker():
            result = tasks.echo_json.delay(book)
            book.delete()
        assert result.get(timeout=TIMEOUT)["args"] == [None]


def test_deleted_row_skips_the_task(held_worker, recorded):
    book = Book.objects.create(title="doomed")
    with held_worker():
        skipped = tasks.missing_skip.delay(book)
        after = tasks.echo_json.delay("after")
        book.delete()
    after.get(timeout=TIMEOUT)  # the solo worker handles messages in order
    assert ("cereal.missing_skip", "IGNORED") in recorded["postrun"]
    assert recorded["missing"][0][1] == "skip"
    assert recorded["failure"] == []
    assert skipped.state == "PENDING"  # Celery stores no result for an ignored task


def test_unsaved_instance_refused_at_delay(worker):
    with pytest.raises(EncodeError, match="unsaved testapp.Book instance"):
        tasks.echo_json.delay(Book(title="new"))
    with pytest.raises(EncodeError, match="unsaved testapp.Book instance"):
        tasks.echo_pickle.delay([Book(title="new")])


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_instance_is_reread_from_its_database(celery_worker, held_worker):
    Book.objects.create(title="default copy")
    book = Book.objects.using("other").create(title="other copy")
    assert book._state.db == "other"
    with held_worker():
        result = tasks.echo_json.delay(book)
        Book.objects.using("other").filter(pk=book.pk).update(title="other fresh")
    seen = result.get(timeout=TIMEOUT)["args"][0]
    assert seen["db"] == "other" and fields(seen)["title"] == "other fresh"


def test_pk_types_inheritance_proxy_and_custom_default_manager(held_worker):
    token = Token.objects.create(label="t")
    country = Country.objects.create(code="de", name="Germany")
    restaurant = Restaurant.objects.create(name="R", serves_pizza=False)
    proxy = BookProxy.objects.create(title="proxied")
    secret = Secret.objects.create(text="s")
    with held_worker():
        result = tasks.echo_json.delay(token, country, restaurant, proxy, secret)
        Token.objects.filter(pk=token.pk).update(label="t2")
        Country.objects.filter(pk="de").update(name="Deutschland")
        Restaurant.objects.filter(pk=restaurant.pk).update(serves_pizza=True)
        Secret.objects.filter(pk=secret.pk).update(hidden=True)  # hidden from the default manager
    t, c, r, p, s = result.get(timeout=TIMEOUT)["args"]
    assert (t["model"], t["pk"], fields(t)["label"]) == ("testapp.Token", str(token.pk), "t2")
    assert (c["model"], c["pk"], fields(c)["name"]) == ("testapp.Country", "de", "Deutschland")
    assert (r["model"], fields(r)["serves_pizza"], fields(r)["name"]) == ("testapp.Restaurant", "True", "R")
    assert (p["model"], fields(p)["title"]) == ("testapp.BookProxy", "proxied")
    assert (s["model"], fields(s)["hidden"]) == ("testapp.Secret", "True")


def test_queryset_argument(held_worker):
    for title in ["x", "y", "z"]:
        Book.objects.create(title=title)
    with held_worker():
        result = tasks.echo_pickle.delay(Book.objects.order_by("-title"))
        Book.objects.filter(title="y").update(pages=7)
    (seen,) = result.get(timeout=TIMEOUT)["args"]
    assert [(fields(b)["title"], fields(b)["pages"]) for b in seen["list"]] == [
        ("z", "0"),
        ("y", "7"),
        ("x", "0"),
    ]


def test_task_decorator_forms(worker):
    book = Book.objects.create(title="forms")
    assert tasks.bare_task.serializer == DJANGO_CEREAL_PICKLE
    assert tasks.called_task.serializer == DJANGO_CEREAL_PICKLE
    assert tasks.bound_task.serializer == DJANGO_CEREAL_JSON  # an explicit serializer wins
    assert tasks.bare_task.delay(book).get(timeout=TIMEOUT) == "forms"
    assert tasks.called_task.delay(book).get(timeout=TIMEOUT) == "forms"
    assert tasks.bound_task.delay(book).get(timeout=TIMEOUT) == {
        "task": "cereal.bound",
        "title": "forms",
        "serializer": DJANGO_CEREAL_JSON,
    }


def test_delay_on_commit_is_kept(worker):
    book = Book.objects.create(title="committed later")
    assert callable(tasks.bare_task.delay_on_commit)
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        Book.objects.filter(pk=book.pk).update(title="committed")
        tasks.bare_task.apply_async_on_commit((book,), task_id=task_id)
    assert tasks.bare_task.AsyncResult(task_id).get(timeout=TIMEOUT) == "committed"


def test_model_method_as_task(held_worker):
    book = Book.objects.create(title="m")
    with held_worker():
        delayed = book.retitle.delay("!")
        Book.objects.filter(pk=book.pk).update(title="fresh")
    assert delayed.get(timeout=TIMEOUT) == "fresh!"
    assert Book.objects.get(pk=book.pk).title == "fresh!"
    assert book.retitle.s("?").delay().get(timeout=TIMEOUT) == "fresh!?"
    assert Book.retitle.delay(book, "#").get(timeout=TIMEOUT) == "fresh!?#"
    assert book.describe.delay().get(timeout=TIMEOUT) == {"title": "fresh!?#", "pages": 0}
    assert Book.describe.name == "testapp.Book.describe_pickle"
    assert Book.describe.serializer == DJANGO_CEREAL_PICKLE
    assert Book.retitle.name == "testapp.Book.retitle" and Book.retitle.serializer == DJANGO_CEREAL_JSON
    book.title = "local"
    assert book.retitle("-") == "local-"  # a plain call still runs here and now


def test_inherited_method_task_gets_the_subclass(held_worker):
    restaurant = Restaurant.objects.create(name="R")
    with held_worker():
        result = restaurant.kind.delay()
        Restaurant.objects.filter(pk=restaurant.pk).update(name="R2")
    assert result.get(timeout=TIMEOUT) == ["Restaurant", "R2"]
    assert Restaurant.kind.name == "testapp.Place.kind"


def test_chain_of_method_tasks_gets_fresh_self_each_step(worker):
    book = Book.objects.create(title="c")
    result = chain(book.retitle.si("1"), book.retitle.si("2"), Book.describe.si(book)).delay()
    assert result.get(timeout=TIMEOUT) == {"title": "c12", "pages": 0}


def test_retry_reloads_the_row(worker):
    book = Book.objects.create(title="original")
    assert tasks.rename_then_retry.delay(book).get(timeout=TIMEOUT) == "renamed before retry"


def test_json_only_worker_refuses_pickle_payload(celery_app, tmp_path):
    """A separate worker process that accepts only JSON drops the pickle message and never runs it."""
    queue = f"cereal-strict-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        CEREAL_STRICT_BROKER=celery_app.conf.broker_url,
        CEREAL_STRICT_BACKEND=celery_app.conf.result_backend,
        CEREAL_STRICT_QUEUE=queue,
    )
    refused = celery_app.send_task(
        "cereal.strict_echo", args=["pickled"], serializer=DJANGO_CEREAL_PICKLE, queue=queue
    )
    accepted = celery_app.send_task(
        "cereal.strict_echo", args=["json"], serializer=DJANGO_CEREAL_JSON, queue=queue
    )
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.strict_app", "worker", "--pool=solo",
             "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel=INFO"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=pathlib.Path(__file__).parent.parent,
        )  # fmt: skip
        try:
            assert accepted.get(timeout=TIMEOUT) == "json"  # the worker takes messages in order
        finally:
            worker.terminate()
            worker.wait(timeout=TIMEOUT)
    assert refused.state == "PENDING"
    text = log.read_text()
    assert "Refusing to deserialize untrusted content of type" in text and "x-django-cereal-pickle" in text
