"""Tasks of Django's own tasks framework (Django 6.0+), declared with django_cereal.django_tasks.task."""

from __future__ import annotations

from django.tasks import TaskContext

from django_cereal.django_tasks import task
from tests.testapp.models import Author, Book


def describe(book: Book | None) -> dict | None:
    return None if book is None else {"pk": book.pk, "title": book.title, "type": type(book).__name__}


@task
def immediate(book: Book, *, authors: list[Author], note: str = "") -> dict:
    return {"book": describe(book), "authors": [a.name for a in authors], "note": note}


@task(backend="db")
def queued(book: Book, books: list[Book]) -> dict:
    return {"book": describe(book), "titles": [b.title for b in books]}


@task(backend="db", cereal_missing="none")
def queued_or_none(book: Book) -> dict | None:
    return describe(book)


@task(backend="db", takes_context=True)
def with_context(context: TaskContext, book: Book) -> list:
    return [context.attempt, book.title]
