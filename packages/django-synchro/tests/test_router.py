from __future__ import annotations

import pytest
from django.test import override_settings

from tests.helpers import sync
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


class EverythingToDefault:
    """A router that ignores instance hints: a plain ``Model.objects`` always means LOCAL."""

    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True


@override_settings(DATABASE_ROUTERS=[EverythingToDefault()])
def test_sync_works_under_a_router_that_ignores_hints():
    book = Book.objects.create(title="b", author=Author.objects.create(name="a"))
    book.tags.add(Tag.objects.create(name="t"))
    sync()
    book.title = "b2"
    book.save()
    book.tags.clear()
    sync()
    assert list(Book.objects.using("remote").values_list("title", "author__name")) == [("b2", "a")]
    assert not Book.tags.through.objects.using("remote").exists()
    assert Tag.objects.using("remote").count() == 1
