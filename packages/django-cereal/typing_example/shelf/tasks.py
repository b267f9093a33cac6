"""Tasks declared with django-cereal's decorators keep their functions' signatures."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from django_cereal.json import task as json_task
from django_cereal.pickle import task

from .models import Book


@task
def archive(book: Book, reason: str) -> int:
    return book.pk


@json_task(name="shelf.label", max_retries=3)
def label(book: Book, *, prefix: str = "") -> str:
    return prefix + book.title


@task(bind=True)
def retry_later(self: Any, book: Book) -> None:
    self.retry(countdown=10)


def send(book: Book) -> None:
    archive.delay(book, "old")
    archive.delay_on_commit(book, reason="old")
    label.delay(book, prefix="#")
    retry_later.delay(book)  # bind=True: the task's own argument is not passed
    assert_type(archive(book, "now"), int)  # calling the task runs it here
    assert_type(label.name, str)
    archive.apply_async((book, "old"), countdown=5)
    archive.s(book)  # partial signatures are not checked (Celery fills in the rest)

    archive.delay(book)  # type: ignore[call-arg]
    archive.delay("not a book", "old")  # type: ignore[arg-type]
    label.delay(book, "positional")  # type: ignore[call-arg]
    retry_later.delay(None, book)  # type: ignore[call-arg, arg-type]


def methods(book: Book) -> None:
    book.retitle.delay("!")
    assert_type(book.retitle("!"), str)  # a plain call still runs the method
    book.pages.delay(1, last=5)
    Book.retitle.delay(book, "?")  # the task itself, on the class
    book.retitle.s("x")

    book.retitle.delay(1)  # type: ignore[arg-type]
    book.pages.delay()  # type: ignore[call-arg]
    Book.retitle.delay("?")  # type: ignore[call-arg, arg-type]
