"""Django's own tasks (Django 6.0+) with model arguments keep their functions' signatures."""

from __future__ import annotations

from typing import Any

from django.tasks import TaskContext
from typing_extensions import assert_type

from django_cereal.django_tasks import CerealTask, decode_arguments, encode_arguments, task

from .models import Book


@task
def reprint(book: Book, copies: int = 1) -> str:
    return book.title * copies


@task(priority=0, cereal_missing="none", takes_context=True)
def audit(context: TaskContext[[Book | None], int], book: Book | None) -> int:
    return context.attempt


def enqueue(book: Book) -> None:
    result = reprint.enqueue(book, copies=2)
    assert_type(result.return_value, str)
    assert isinstance(reprint, CerealTask)
    assert_type(reprint.call(book), str)
    audit.enqueue(None)
    args, kwargs = encode_arguments((book,), {})
    loaded_args, loaded_kwargs = decode_arguments(args, kwargs, policy="none")
    assert_type(loaded_args, tuple[Any, ...])
    assert_type(loaded_kwargs, dict[str, Any])

    reprint.enqueue("not a book")  # type: ignore[arg-type]
    audit.enqueue(book, 2)  # type: ignore[call-arg]
