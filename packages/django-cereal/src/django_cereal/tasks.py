"""The ``task`` decorator shared by :mod:`django_cereal.pickle` and :mod:`django_cereal.json`.

Typed with :class:`~typing.ParamSpec`: a task keeps its function's signature for mypy and
pyright, so ``send_invoice.delay("wrong")`` is reported when ``send_invoice`` takes an invoice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from celery.canvas import Signature
    from celery.result import AsyncResult

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class CeleryTask(Protocol[P, R_co]):
    """What a decorated function becomes, as type checkers see it: a Celery task with its signature.

    ``delay``, ``delay_on_commit`` and calling the task check the arguments against the function;
    ``s()``/``si()`` accept partial arguments (Celery prepends a parent's result). Every other
    attribute of the Celery task (``retry``, ``request``, ``AsyncResult``...) is there, as ``Any``.
    """

    @property
    def name(self) -> str: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult: ...

    def delay_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> None: ...

    def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult: ...

    def s(self, *args: Any, **kwargs: Any) -> Signature: ...

    def si(self, *args: Any, **kwargs: Any) -> Signature: ...

    def __getattr__(self, name: str) -> Any: ...


class TaskDecorator:
    """``task``: declare a Celery task (``shared_task``) that uses one serializer unless told otherwise.

    Works bare (``@task``), called (``@task()``), with any Celery task option
    (``@task(name=..., bind=True, serializer=...)``) and in django-cereal 0.2.1's form
    ``task(func, **options)``; an explicit ``serializer`` wins. The task class is the app's own
    (with Django: ``DjangoTask``, so ``delay_on_commit`` exists).
    """

    def __init__(self, serializer: str, module: str) -> None:
        self.serializer = serializer
        self.__module__ = module

    def __repr__(self) -> str:
        return f"<{self.__module__}.task (serializer {self.serializer!r})>"

    @overload
    def __call__(self, func: Callable[P, R], /, **options: Any) -> CeleryTask[P, R]: ...

    @overload
    def __call__(
        self, /, *, bind: Literal[True], **options: Any
    ) -> Callable[[Callable[Concatenate[Any, P], R]], CeleryTask[P, R]]: ...

    @overload
    def __call__(self, /, **options: Any) -> Callable[[Callable[P, R]], CeleryTask[P, R]]: ...

    def __call__(self, /, *args: Any, **options: Any) -> Any:
        from celery import shared_task

        if options.get("serializer") is None:
            options["serializer"] = self.serializer
        if len(args) == 1 and callable(args[0]):
            return shared_task(**options)(args[0])
        if args:
            raise TypeError(
                "task() takes either the function to decorate or keyword options only; "
                f"got positional arguments {args!r}."
            )
        return shared_task(**options)
