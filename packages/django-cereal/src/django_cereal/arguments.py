"""Decoding in two passes, and task arguments that load their references when the task unpacks them.

Both serializers decode a payload with a *sink* that builds what a reference marker stands for:

1. :class:`Collector` builds :class:`Reference` placeholders (no query) and records every
   reference it built and every problem it met (a malformed marker, a refused pickle global),
   putting an inert stand-in where the problem was.
2. :class:`Resolver` hands out loaded instances instead; the payload is decoded again with it.

A Celery task message (protocol 2 body ``(args, kwargs, embed)``, or ``(args, kwargs)`` in eager
mode) comes back from the first pass as :class:`LazyArgs` / :class:`LazyKwargs`: Celery decodes
a message twice in the consumer, where an exception only drops it, and calls
``fun(*args, **kwargs)`` inside the block that turns exceptions into task failures. Unpacking
the arguments loads every reference in them in one go (one query per model and database) and
raises a recorded problem, so a missing row or a malformed marker fails the task with a result.

Any other payload (``kombu.serialization.loads``, a ``kombu.Consumer`` callback, a result) is
loaded at once: the decoder returns model instances, as django-cereal 0.2.1 did.

Neither pass walks the decoded structure recursively, so nesting depth is limited only by the
decoders (the C unpickler has no limit of its own; the JSON decoder has Python's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, SupportsIndex, overload

from django.db import DEFAULT_DB_ALIAS

from .exceptions import CerealError
from .references import Reference, load_references

logger = logging.getLogger(__name__)

#: What a task body's embed holds in Celery's protocol 2.
EMBED_KEYS = frozenset({"callbacks", "errbacks", "chain", "chord"})


class Unreadable:
    """Stands in for a part of a payload that could not be read; the error is raised later."""

    __slots__ = ("error",)

    def __init__(self, error: CerealError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"<unreadable: {self.error}>"


class Sink(Protocol):
    """What a decoding pass calls for each reference marker and each problem."""

    def reference(self, label: Any, pk: Any, alias: Any = DEFAULT_DB_ALIAS) -> Any: ...

    def problem(self, error: CerealError) -> Any: ...


class Collector:
    """First pass: builds placeholders, records them and every problem met."""

    __slots__ = ("problems", "refs")

    def __init__(self) -> None:
        self.refs: list[Reference] = []
        self.problems: list[CerealError] = []

    def reference(self, label: Any, pk: Any, alias: Any = DEFAULT_DB_ALIAS) -> Any:
        ref = Reference(label, pk, alias)
        self.refs.append(ref)
        return ref

    def problem(self, error: CerealError) -> Any:
        self.problems.append(error)
        return Unreadable(error)

    def raise_problem(self) -> None:
        """Raise the first problem met, if any (logged: the payload was refused)."""
        if self.problems:
            error = self.problems[0]
            more = len(self.problems) - 1
            logger.warning(
                "django-cereal: refused a payload: %s%s",
                error,
                f" (and {more} more problems)" if more else "",
            )
            raise error


class Resolver:
    """Second pass: loaded instances for the references in ``loaded``, placeholders for the rest."""

    __slots__ = ("loaded",)

    def __init__(self, loaded: dict[Reference, Any]) -> None:
        self.loaded = loaded

    def reference(self, label: Any, pk: Any, alias: Any = DEFAULT_DB_ALIAS) -> Any:
        ref = Reference(label, pk, alias)
        return self.loaded.get(ref, ref)

    def problem(self, error: CerealError) -> Any:  # pragma: no cover - problems are raised before
        raise error


Decode = Callable[[Sink], Any]


def references_in(values: Iterable[Any]) -> list[Reference]:
    """Every :class:`Reference` inside ``values``, looking into lists, tuples, dicts and sets.

    Iterative, so deeply nested arguments need no recursion.
    """
    found: list[Reference] = []
    stack = [iter(values)]
    while stack:
        for value in stack[-1]:
            kind = type(value)
            if kind is Reference:
                found.append(value)
            elif kind is dict:
                stack.append(iter(value.keys()))
                stack.append(iter(value.values()))
                break
            elif kind is list or kind is set or kind is frozenset or isinstance(value, tuple):
                stack.append(iter(value))
                break
        else:
            stack.pop()
    return found


class _Resolution:
    """The arguments of one decoded task message, loaded once on first use."""

    __slots__ = ("_args", "_collector", "_decode", "_error", "_kwargs", "_result")

    def __init__(self, decode: Decode, collector: Collector, args: Any, kwargs: dict[str, Any]) -> None:
        self._decode = decode
        self._collector = collector
        self._args = args
        self._kwargs = kwargs
        self._result: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._error: BaseException | None = None

    def result(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._result is None:
            if self._error is not None:
                raise self._error
            try:
                self._collector.raise_problem()
                loaded = load_references(
                    references_in((self._args, self._kwargs)), when="when the task started"
                )
                body = self._decode(Resolver(loaded))
            except (AttributeError, KeyError) as exc:
                # Python turns these into a misleading TypeError while unpacking **kwargs.
                self._error = CerealError(f"Could not load the task's model arguments: {exc!r}")
                raise self._error from exc
            except BaseException as exc:
                self._error = exc
                raise
            self._result = (tuple(body[0]), dict(body[1]))
        return self._result


class LazyArgs(tuple):
    """Positional arguments whose references load when the task unpacks them (``*args``).

    Indexing and iteration give loaded instances; ``repr`` shows the references without a query.
    """

    _resolution: _Resolution

    def __new__(cls, raw: Iterable[Any], resolution: _Resolution) -> LazyArgs:
        obj = super().__new__(cls, raw)
        obj._resolution = resolution
        return obj

    def __iter__(self) -> Iterator[Any]:
        return iter(self._resolution.result()[0])

    @overload
    def __getitem__(self, index: SupportsIndex) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Any, ...]: ...

    def __getitem__(self, index: Any) -> Any:
        return self._resolution.result()[0][index]

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(tuple.__iter__(self)),))


class LazyKwargs(dict):
    """Keyword arguments whose references load when the task unpacks them (``**kwargs``)."""

    _resolution: _Resolution

    def __init__(self, raw: dict[str, Any], resolution: _Resolution) -> None:
        super().__init__(raw)
        self._resolution = resolution

    def _loaded(self) -> dict[str, Any]:
        return self._resolution.result()[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def keys(self) -> Any:
        return self._loaded().keys()

    def values(self) -> Any:
        return self._loaded().values()

    def items(self) -> Any:
        return self._loaded().items()

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._loaded().get(key, default)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(dict.items(self)),))


def is_task_body(body: Any) -> bool:
    """Whether ``body`` is a Celery protocol-2 body ``(args, kwargs, embed)`` or eager ``(args, kwargs)``."""
    if not isinstance(body, (list, tuple)) or len(body) not in (2, 3):
        return False
    if not isinstance(body[0], (list, tuple)) or type(body[1]) is not dict:
        return False
    return len(body) == 2 or (type(body[2]) is dict and body[2].keys() >= EMBED_KEYS)


def decode(
    run: Decode,
    *,
    lazy_tasks: bool = True,
    policy: str | None = None,
    when: str = "when the message was decoded",
) -> Any:
    """Decode a payload with ``run`` (a decoding pass that takes a sink), as described above.

    :param lazy_tasks: ``False`` loads a task message's references at once too.
    :param policy: the missing-row policy for references loaded at once (default: the setting).
    :param when: how a missing-row error names the moment references loaded at once were loaded.
    :raises CerealError: (not for task messages) a malformed marker or refused pickle global.
    :raises Model.DoesNotExist: (not for task messages) a missing row under the ``"raise"`` policy.
    """
    collector = Collector()
    body = run(collector)
    if not collector.refs and not collector.problems:
        return body
    if lazy_tasks and is_task_body(body):
        resolution = _Resolution(run, collector, body[0], body[1])
        return (LazyArgs(body[0], resolution), LazyKwargs(body[1], resolution), *body[2:])
    collector.raise_problem()
    return run(Resolver(load_references(collector.refs, policy=policy, when=when)))
