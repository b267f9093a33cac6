"""The ``task`` decorator factory shared by :mod:`django_cereal.pickle` and :mod:`django_cereal.json`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def make_task_decorator(serializer: str) -> Callable[..., Any]:
    """Build a ``task`` decorator that defaults the task serializer to ``serializer``."""

    def task(*args: Any, **options: Any) -> Any:
        """Declare a Celery task (``shared_task``) that uses this serializer unless told otherwise.

        Works bare (``@task``), called (``@task()``) and with any Celery task option
        (``@task(name=..., bind=True, serializer=...)``); an explicit ``serializer`` wins. The
        task class is the app's own (with Django: ``DjangoTask``, so ``delay_on_commit`` exists).
        """
        from celery import shared_task

        if options.get("serializer") is None:
            options["serializer"] = serializer
        if len(args) == 1 and callable(args[0]):
            return shared_task(**options)(args[0])
        if args:
            raise TypeError(
                "task() takes either the function to decorate or keyword options only; "
                f"got positional arguments {args!r}."
            )
        return shared_task(**options)

    return task
