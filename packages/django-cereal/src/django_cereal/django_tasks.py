"""Model instances as arguments of Django's own tasks framework (``django.tasks``, Django 6.0+).

``django.tasks`` accepts JSON-compatible arguments only. A task declared with :func:`task`
takes model instances too (and everything ``django-cereal-json`` carries: querysets, sets,
datetimes, Decimals, UUIDs, bytes). They are stored as references when the task is enqueued and
loaded when it runs: fresh rows, one query per model and database, with the missing-row policy::

    from django_cereal.django_tasks import task

    @task
    def send_invoice(invoice: Invoice) -> None:
        invoice.mail()

    send_invoice.enqueue(invoice)  # the backend stores {"__cereal__": ["billing.Invoice", 42]}

It works with every backend whose workers run a task through ``Task.call()`` / ``acall()``:
Django's ``ImmediateBackend``, django-tasks-db's ``DatabaseBackend`` and others built on
``BaseTaskBackend``. A task's ``TaskResult.args`` / ``kwargs`` show the stored references.

:func:`encode_arguments` and :func:`decode_arguments` are the codec on its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, cast, overload

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured

try:
    from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, Task, task_backends
    from django.tasks.base import DEFAULT_TASK_PRIORITY, TaskContext, TaskResult
except ImportError as exc:  # Django 5.2
    import django

    raise ImportError(
        "django_cereal.django_tasks needs Django 6.0 or later (the django.tasks framework); "
        f"this is Django {django.get_version()}."
    ) from exc

from . import conf
from . import json as cereal_json

__all__ = ["CerealTask", "decode_arguments", "encode_arguments", "task"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def encode_arguments(args: Any, kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """JSON-compatible ``(args, kwargs)`` with model instances written as references.

    Encoding what this function wrote gives it back unchanged.

    :raises ModelNotAllowed: a model outside ``DJANGO_CEREAL_ALLOWED_MODELS``.
    :raises UnsavedInstanceError: an instance without a primary key.
    """
    encoded = json.loads(cereal_json.dumps([list(args), dict(kwargs)]))
    return encoded[0], encoded[1]


def decode_arguments(
    args: list[Any], kwargs: dict[str, Any], *, policy: str | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments :func:`encode_arguments` wrote, with every reference loaded.

    :param policy: the missing-row policy (default: ``DJANGO_CEREAL_MISSING``).
    :raises Model.DoesNotExist: a row is missing and the policy is ``"raise"``.
    :raises celery.exceptions.Ignore: a row is missing and the policy is ``"skip"``.
    """
    data = json.dumps([args, kwargs])
    decoded = cereal_json.loads_now(data, policy=policy, when="when the task started")
    return tuple(decoded[0]), decoded[1]


if TYPE_CHECKING:
    _Task = Task
else:

    class _Task(Task, Generic[P, R]):
        """``django.tasks.Task`` made subscriptable at run time (django-stubs types it as generic)."""

        __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CerealTask(_Task[P, R]):
    """A ``django.tasks.Task`` whose arguments may hold model instances (see the module docs).

    ``cereal_missing`` overrides ``DJANGO_CEREAL_MISSING`` for this task. Under ``"skip"`` a task
    whose rows are gone does not run its function: it finishes with the return value ``None``.
    """

    cereal_missing: str | None = None

    def __post_init__(self) -> None:
        if self.cereal_missing is not None:
            conf.check_missing_policy(self.cereal_missing, f"The cereal_missing option of task {self.name}")
        Task.__post_init__(self)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskResult[P, R]:
        """Queue the task; model instances in the arguments are stored as references."""
        encoded_args, encoded_kwargs = encode_arguments(args, kwargs)
        return self.get_backend().enqueue(self, encoded_args, encoded_kwargs)

    async def aenqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskResult[P, R]:
        encoded_args, encoded_kwargs = await sync_to_async(encode_arguments)(args, kwargs)
        return await self.get_backend().aenqueue(self, encoded_args, encoded_kwargs)

    def _load(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Arguments with fresh rows (a ``TaskContext`` first argument kept); ``None`` to skip the task."""
        from celery.exceptions import Ignore

        context, rest = (args[:1], args[1:]) if self.takes_context else ((), args)
        try:
            loaded_args, loaded_kwargs = decode_arguments(
                *encode_arguments(rest, kwargs), policy=self.cereal_missing
            )
        except Ignore:
            return None
        return (*context, *loaded_args), loaded_kwargs

    def call(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function here and now, with every referenced row read afresh."""
        loaded = self._load(args, kwargs)
        if loaded is None:
            return cast(R, None)
        return Task.call(self, *loaded[0], **loaded[1])

    async def acall(self, *args: P.args, **kwargs: P.kwargs) -> R:
        loaded = await sync_to_async(self._load)(args, kwargs)
        if loaded is None:
            return cast(R, None)
        return await Task.acall(self, *loaded[0], **loaded[1])


@overload
def task(
    function: Callable[Concatenate[TaskContext[Any, Any], P], R],
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[True],
    cereal_missing: str | None = ...,
) -> CerealTask[P, R]: ...


@overload
def task(
    function: Callable[P, R],
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[False] = ...,
    cereal_missing: str | None = ...,
) -> CerealTask[P, R]: ...


@overload
def task(
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[True],
    cereal_missing: str | None = ...,
) -> Callable[[Callable[Concatenate[TaskContext[Any, Any], P], R]], CerealTask[P, R]]: ...


@overload
def task(
    *,
    priority: int = ...,
    queue_name: str = ...,
    backend: str = ...,
    takes_context: Literal[False] = ...,
    cereal_missing: str | None = ...,
) -> Callable[[Callable[P, R]], CerealTask[P, R]]: ...


def task(
    function: Callable[..., Any] | None = None,
    *,
    priority: int = DEFAULT_TASK_PRIORITY,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
    backend: str = DEFAULT_TASK_BACKEND_ALIAS,
    takes_context: bool = False,
    cereal_missing: str | None = None,
) -> Any:
    """``django.tasks.task`` for functions that take model instances: same options, plus ``cereal_missing``.

    :raises ImproperlyConfigured: the backend uses its own ``task_class`` (django-cereal's task
        class derives from ``django.tasks.Task`` only).
    """

    def wrapper(func: Callable[..., Any]) -> CerealTask[Any, Any]:
        task_class = task_backends[backend].task_class
        if task_class is not Task:
            raise ImproperlyConfigured(
                f"The task backend {backend!r} uses its own task class {task_class.__qualname__}; "
                "django_cereal.django_tasks.task works with backends that use django.tasks.Task."
            )
        return CerealTask(
            func=func,
            priority=priority,
            queue_name=queue_name,
            backend=backend,
            takes_context=takes_context,
            run_after=None,  # a required field in Django 6.0, defaulted in 6.1
            cereal_missing=cereal_missing,
        )

    if function is not None:
        return wrapper(function)
    return wrapper
