"""Task arguments that load their references when the task unpacks them.

Celery decodes a message once in the consumer and again right before running the task, then
calls ``fun(*args, **kwargs)`` inside the block that turns exceptions into task failures. The
decoders hand Celery :class:`LazyArgs` / :class:`LazyKwargs`: unpacking them loads every
reference of the message in one go (one query per model and database), so a missing row fails
the task, with ``task_failure`` and a ``FAILURE`` result, instead of breaking the decoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .exceptions import CerealError
from .references import Reference, load_references


def collect(value: Any, out: list[Reference]) -> None:
    """Append every :class:`Reference` found in ``value`` (lists, tuples, dicts, sets) to ``out``."""
    kind = type(value)
    if kind is Reference:
        out.append(value)
    elif kind is dict:
        for key, item in value.items():
            collect(key, out)
            collect(item, out)
    elif kind in (list, tuple, set, frozenset) or isinstance(value, tuple):
        for item in value:
            collect(item, out)


def replace(value: Any, loaded: dict[Reference, Any]) -> Any:
    """A copy of ``value`` with every :class:`Reference` replaced by ``loaded[ref]``."""
    kind = type(value)
    if kind is Reference:
        return loaded[value]
    if kind is list:
        return [replace(item, loaded) for item in value]
    if kind is dict:
        return {replace(key, loaded): replace(item, loaded) for key, item in value.items()}
    if kind is tuple:
        return tuple(replace(item, loaded) for item in value)
    if kind is set or kind is frozenset:
        return kind(replace(item, loaded) for item in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
        return kind(*(replace(item, loaded) for item in value))
    return value


class _Resolution:
    """The arguments of one decoded message, loaded once on first use."""

    __slots__ = ("_args", "_error", "_kwargs", "_refs", "_result")

    def __init__(self, args: Any, kwargs: dict[str, Any], refs: list[Reference]) -> None:
        self._args = args
        self._kwargs = kwargs
        self._refs = refs
        self._result: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._error: BaseException | None = None

    def result(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._result is None:
            if self._error is not None:
                raise self._error
            try:
                loaded = load_references(self._refs)
            except (AttributeError, KeyError) as exc:
                # Python turns these into a misleading TypeError while unpacking **kwargs.
                self._error = CerealError(f"Could not load the task's model arguments: {exc!r}")
                raise self._error from exc
            except BaseException as exc:
                self._error = exc
                raise
            self._result = (
                tuple(replace(item, loaded) for item in self._args),
                replace(self._kwargs, loaded),
            )
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

    def __iter__(self):
        return iter(self._resolution.result()[0])

    def __getitem__(self, index):
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

    def __iter__(self):
        return iter(self._loaded())

    def keys(self):
        return self._loaded().keys()

    def values(self):
        return self._loaded().values()

    def items(self):
        return self._loaded().items()

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._loaded().get(key, default)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(dict.items(self)),))


def wrap_body(body: Any) -> Any:
    """Make a decoded Celery body ``(args, kwargs[, embed])`` load its references at task start.

    Bodies without references in ``args``/``kwargs`` come back unchanged; so does anything that
    is not shaped like a Celery message (its :class:`Reference` objects stay as they are).
    """
    if not (
        isinstance(body, (list, tuple))
        and len(body) in (2, 3)
        and isinstance(body[0], (list, tuple))
        and type(body[1]) is dict
        and (len(body) == 2 or body[2] is None or type(body[2]) is dict)
    ):
        return body
    refs: list[Reference] = []
    collect(body[0], refs)
    collect(body[1], refs)
    if not refs:
        return body
    resolution = _Resolution(body[0], body[1], refs)
    return (LazyArgs(body[0], resolution), LazyKwargs(body[1], resolution), *body[2:])
