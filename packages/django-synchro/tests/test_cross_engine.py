"""A SQLite LOCAL synchronized into a PostgreSQL or MariaDB REMOTE (and back)."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.helpers import sync
from tests.testapp.models import Author, Book, Event, Item, Tag

pytestmark = [
    pytest.mark.vendor("postgresql", "mysql"),
    pytest.mark.django_db(databases=["default", "remote", "sqlite_local"]),
]


@override_settings(SYNCHRO_LOCAL="sqlite_local")
def test_sqlite_local_into_a_server_remote_and_back():
    local = "sqlite_local"
    when = timezone.now().replace(microsecond=123456)
    author = Author.objects.using(local).create(name="Lem")
    tags = [Tag.objects.using(local).create(name=n) for n in ("a", "b")]
    book = Book.objects.using(local).create(title="Solaris", author=author, published=when)
    book.tags.add(*tags)
    Event.objects.using(local).create(code="e", day=datetime.date(2024, 2, 29))
    item = Item.objects.using(local).create(id=uuid.uuid4(), name="u")

    summary = sync()
    assert summary.failed == 0
    remote_book = Book.objects.using("remote").get()
    assert (remote_book.author.name, remote_book.published) == ("Lem", when)
    assert sorted(remote_book.tags.values_list("name", flat=True)) == ["a", "b"]
    assert Item.objects.using("remote").get().pk == item.pk
    assert sync().added == 0

    remote_book.title = "Solaris (remote)"
    remote_book.save()
    Event.objects.using("remote").get().delete()
    sync(direction="pull")
    assert Book.objects.using(local).get().title == "Solaris (remote)"
    assert not Event.objects.using(local).exists()
