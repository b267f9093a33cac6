"""kombu consumers that are not Celery tasks get model instances, as with django-cereal 0.2.1."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from kombu import Connection, Consumer, Exchange, Producer, Queue, serialization
from kombu.exceptions import DecodeError

from django_cereal.json import DJANGO_CEREAL_JSON
from django_cereal.pickle import DJANGO_CEREAL_PICKLE
from tests.testapp.models import Author, Book

SERIALIZERS = [DJANGO_CEREAL_JSON, DJANGO_CEREAL_PICKLE]
ACCEPT = ["django-cereal-json", "django-cereal-pickle"]
CONTENT_TYPES = serialization.prepare_accept_content(ACCEPT)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_serialization_loads_returns_fresh_instances(serializer):
    books = [Book.objects.create(title=f"b{i}") for i in range(20)]
    author = Author.objects.create(name="a")
    content_type, encoding, data = serialization.dumps(
        {"books": books, "nested": {"author": author, "first": books[0]}}, serializer=serializer
    )
    Book.objects.filter(pk=books[3].pk).update(title="changed after sending")
    with CaptureQueriesContext(connections["default"]) as queries:
        payload = serialization.loads(data, content_type, encoding, accept=CONTENT_TYPES)
    assert len(queries) == 2  # one per model, however many references
    assert [type(b) for b in payload["books"]] == [Book] * 20
    assert payload["books"][3].title == "changed after sending"
    assert payload["nested"]["author"].name == "a"
    assert payload["nested"]["first"] is payload["books"][0]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_missing_row_policy_applies_when_decoding(serializer):
    book = Book.objects.create(title="doomed")
    kept = Book.objects.create(title="kept")
    content_type, encoding, data = serialization.dumps([book, kept], serializer=serializer)
    book.delete()
    with pytest.raises(DecodeError, match=r"testapp.Book pk=\d+ \(database 'default'\) was not found when"):
        serialization.loads(data, content_type, encoding, accept=CONTENT_TYPES)
    with override_settings(DJANGO_CEREAL_MISSING="none"):
        assert serialization.loads(data, content_type, encoding, accept=CONTENT_TYPES) == [None, kept]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_consumer_callback_receives_instances_through_the_broker(celery_broker_url, serializer):
    books = [Book.objects.create(title=f"c{i}") for i in range(3)]
    name = f"cereal-consumer-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="direct")
    queue = Queue(name, exchange, routing_key=name, auto_delete=True)
    received = []
    with Connection(celery_broker_url) as conn:
        channel = conn.channel()
        consumer = Consumer(
            channel,
            [queue],
            accept=ACCEPT,
            callbacks=[lambda body, message: (received.append(body), message.ack())],
        )
        with consumer:
            Producer(channel, exchange).publish(
                {"books": books, "single": books[1]}, routing_key=name, serializer=serializer, declare=[queue]
            )
            Book.objects.filter(pk=books[1].pk).update(title="fresh")
            conn.drain_events(timeout=30)
        queue(channel).delete()
    (body,) = received
    assert [b.title for b in body["books"]] == ["c0", "fresh", "c2"]
    assert body["single"] is body["books"][1]
