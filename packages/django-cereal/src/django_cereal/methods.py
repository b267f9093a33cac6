"""Model methods as Celery tasks, with a fresh ``self`` in the worker.

Celery 4 removed ``celery.contrib.methods``; :func:`task_method` replaces it for Django models::

    class Invoice(models.Model):
        @task_method
        def send(self, reason): ...

    invoice.send.delay("reminder")   # the worker calls send() on a freshly loaded Invoice
    invoice.send("now")              # a plain, synchronous method call still works

Typed with :class:`~typing.ParamSpec`: ``invoice.send.delay(...)`` is checked against
``send``'s parameters after ``self``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from . import DJANGO_CEREAL_JSON

if TYPE_CHECKING:
    from celery.canvas import Signature
    from celery.result import AsyncResult

    from .tasks import CeleryTask

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


class BoundTaskMethod(Generic[P, R]):
    """A task method bound to one instance: the instance travels as the first argument."""

    __slots__ = ("func", "instance", "task")

    def __init__(self, task: Any, instance: Any, func: Callable[Concatenate[Any, P], R]) -> None:
        self.task = task
        self.instance = instance
        self.func = func

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the method here and now, like an ordinary method."""
        return self.func(self.instance, *args, **kwargs)

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult:
        return self.task.delay(self.instance, *args, **kwargs)

    def delay_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        return self.task.delay_on_commit(self.instance, *args, **kwargs)

    def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult:
        return self.task.apply_async((self.instance, *(args or ())), kwargs, **options)

    def signature(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        return self.task.signature((self.instance, *(args or ())), kwargs, **options)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        return self.task.s(self.instance, *args, **kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        return self.task.si(self.instance, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<task method {self.task.name} of {self.instance!r}>"


class TaskMethod(Generic[S, P, R]):
    """Descriptor installed on the model class by :func:`task_method`."""

    def __init__(self, func: Callable[Concatenate[S, P], R], options: dict[str, Any]) -> None:
        self.func = func
        self.options = options
        self.task: Any = None
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def contribute_to_class(self, cls: type, name: str) -> None:
        """Called by Django's model metaclass: register the task under ``<app_label.Model>.<name>``."""
        from celery import shared_task

        setattr(cls, name, self)
        func = self.func

        def run(instance: Any, *args: Any, **kwargs: Any) -> Any:
            return func(instance, *args, **kwargs)

        run.__name__ = func.__name__
        run.__qualname__ = f"{cls.__qualname__}.{func.__name__}"
        run.__module__ = func.__module__
        run.__doc__ = func.__doc__
        options = dict(self.options)
        options.setdefault("name", f"{cls._meta.label}.{name}")  # type: ignore[attr-defined]
        if options.get("serializer") is None:
            options["serializer"] = DJANGO_CEREAL_JSON
        self.task = shared_task(**options)(run)

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> CeleryTask[Concatenate[S, P], R]: ...

    @overload
    def __get__(self, instance: S, owner: type | None = None) -> BoundTaskMethod[P, R]: ...

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.task  # Model.method.delay(instance, ...)
        return BoundTaskMethod(self.task, instance, self.func)


@overload
def task_method(func: Callable[Concatenate[S, P], R], /) -> TaskMethod[S, P, R]: ...


@overload
def task_method(
    **options: Any,
) -> Callable[[Callable[Concatenate[S, P], R]], TaskMethod[S, P, R]]: ...


def task_method(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Turn a model method into a Celery task; ``obj.method.delay(...)`` runs it on a fresh ``obj``.

    Bare (``@task_method``) or with Celery task options (``@task_method(name=..., serializer=...)``).
    The default serializer is ``django-cereal-json``; the default name is
    ``"<app_label.ModelName>.<method>"``. ``obj.method(...)`` still runs synchronously.
    """
    if func is not None:
        return TaskMethod(func, options)
    return lambda f: TaskMethod(f, options)
