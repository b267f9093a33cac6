"""The ``django-cereal-pickle`` serializer: pickle, with model instances sent as references.

Encoding uses a private :class:`pickle.Pickler` subclass (persistent ids), so plain
``pickle.dumps`` and kombu's own ``pickle`` serializer are never affected, in any thread.
The content type is ``application/x-django-cereal-pickle``: kombu's pickle decoder is not
replaced. Decoding rebuilds only allow-listed globals (:data:`SAFE_GLOBALS` plus the setting
``DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS``) and refuses the rest with
:class:`~django_cereal.exceptions.PickleRefused`. That closes the known ways a crafted pickle
runs code, but pickle was not designed to be safe: accept it only from a broker you trust, or
use :mod:`django_cereal.json`.
"""

from __future__ import annotations

import functools
import io
import pickle
from typing import TYPE_CHECKING, Any

from . import DJANGO_CEREAL_PICKLE, lazy
from .exceptions import InvalidReference, PickleRefused
from .tasks import TaskDecorator

if TYPE_CHECKING:
    from .arguments import Sink

__all__ = [
    "CONTENT_TYPE",
    "DJANGO_CEREAL_PICKLE",
    "SAFE_GLOBALS",
    "dumps",
    "loads",
    "model_decode",
    "model_encode",
    "register_args",
    "task",
]

CONTENT_TYPE = "application/x-django-cereal-pickle"
PROTOCOL = 4
_LIST, _TUPLE = 0, 1


class _ReferencePickler(pickle.Pickler):
    """Writes model instances as persistent ids; everything else is pickled as usual.

    Persistent ids: ``(label, pk[, alias])`` for one instance, and ``(kind, label, [pk, ...][, alias])``
    for a list or tuple of instances of one model (a model queryset is sent as a list).
    """

    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is int or kind is str or kind is dict or kind is bytes or kind is float or obj is None:
            return None
        refs = lazy.references()
        if kind is list or kind is tuple:
            if obj and isinstance(obj[0], refs.Model):
                group = refs.group_key(obj)
                if group is not None:
                    return (_LIST if kind is list else _TUPLE, *group)
            return None
        if isinstance(obj, refs.Model):
            return refs.instance_key(obj)
        if kind is refs.Reference:
            return obj.key()
        if isinstance(obj, refs.QuerySet) and issubclass(obj._iterable_class, refs.ModelIterable):
            return (_LIST, *refs.queryset_key(obj))
        return None

    def reducer_override(self, obj: Any) -> Any:
        """A ``values()``/``values_list()`` queryset is written as the plain list of its rows."""
        refs = lazy.references()
        if isinstance(obj, refs.QuerySet):
            return (list, (refs.queryset_key(obj),))
        return NotImplemented


#: Globals any payload may rebuild: builtin containers and scalars, datetime, decimal, uuid, the
#: time zones of aware datetimes, and Celery's signatures (callbacks and chains in a task message).
SAFE_GLOBALS = frozenset(
    {
        *(
            f"builtins.{name}"
            for name in (
                "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list",
                "range", "set", "slice", "str", "tuple",
            )
        ),
        *(f"collections.{name}" for name in ("Counter", "OrderedDict", "defaultdict", "deque")),
        *(f"datetime.{name}" for name in ("date", "datetime", "time", "timedelta", "timezone")),
        "decimal.Decimal",
        "uuid.UUID",
        "zoneinfo.ZoneInfo",
        "zoneinfo.ZoneInfo._unpickle",
        "celery.canvas.signature",
    }
)  # fmt: skip


class Refused:
    """Stands in for an object whose global ``django-cereal-pickle`` refused to rebuild; inert.

    ``find_class`` returns a subclass per refused name, so unpickling can go on (nothing of the
    refused global runs) and the refusal be raised where it gives a result: when the task starts.
    """

    refused_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Refused:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<refused {self.refused_name}>"


def _refusal(name: str) -> PickleRefused:
    return PickleRefused(
        f"django-cereal-pickle refused to unpickle {name[:200]}: only builtin containers and scalars, "
        "datetime, decimal and uuid values (and Celery signatures) are unpickled, plus the globals "
        "named in DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS."
    )


def _is_allowed(name: str) -> bool:
    if name in SAFE_GLOBALS:
        return True
    from .conf import pickle_allowed_globals

    return name in pickle_allowed_globals()


class _ReferenceUnpickler(pickle.Unpickler):
    """Restricted unpickling (an allow-list of globals); persistent ids become what ``sink`` builds."""

    def __init__(self, data: bytes, sink: Sink) -> None:
        super().__init__(io.BytesIO(data))
        self.sink = sink

    def find_class(self, module: str, name: str) -> Any:
        dotted = f"{module}.{name}"
        if dotted == "builtins.getattr":
            return self._getattr
        if _is_allowed(dotted):
            return super().find_class(module, name)
        return self._refuse(dotted)

    def _getattr(self, obj: Any, name: str, *default: Any) -> Any:
        """``getattr`` as pickle uses it for methods (``ZoneInfo._unpickle``): allow-listed names only."""
        if not isinstance(obj, type) or issubclass(obj, Refused) or not isinstance(name, str):
            return self._refuse(f"getattr() on a {type(obj).__name__}")
        dotted = f"{obj.__module__}.{obj.__qualname__}.{name}"
        if _is_allowed(dotted):
            return getattr(obj, name, *default)
        return self._refuse(dotted)

    def _refuse(self, dotted: str) -> type[Refused]:
        self.sink.problem(_refusal(dotted))
        return type("Refused", (Refused,), {"refused_name": dotted, "__slots__": ()})

    def persistent_load(self, pid: Any) -> Any:
        expected = "(label, pk[, alias]) or (0 or 1, label, [pk, ...][, alias])"
        if type(pid) is not tuple or not 2 <= len(pid) <= 4:
            return self._bad_pid(pid, expected)
        try:
            if type(pid[0]) is str and len(pid) <= 3:
                return self.sink.reference(*pid)
            if type(pid[0]) is int and pid[0] in (_LIST, _TUPLE) and len(pid) >= 3 and type(pid[2]) is list:
                kind, label, pks, *alias = pid
                refs = [self.sink.reference(label, pk, *alias) for pk in pks]
                return refs if kind == _LIST else tuple(refs)
        except InvalidReference as exc:
            return self._bad_pid(pid, f"{expected}; {exc}")
        return self._bad_pid(pid, expected)

    def _bad_pid(self, pid: Any, expected: str) -> Any:
        text = repr(pid)
        text = text if len(text) <= 120 else f"{text[:117]}..."
        return self.sink.problem(
            InvalidReference(f"Malformed django-cereal persistent id {text}: expected {expected}.")
        )


def _decode(data: bytes, sink: Sink) -> Any:
    """One decoding pass over ``data``; ``sink`` builds what each persistent id stands for."""
    return _ReferenceUnpickler(data, sink).load()


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` with every model instance replaced by a reference (unsaved ones refused)."""
    buffer = io.BytesIO()
    _ReferencePickler(buffer, PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Unpickle ``data``, rebuilding only allow-listed globals (see :data:`SAFE_GLOBALS`).

    A Celery task message gets placeholders that load when the task starts (decoding never
    touches the database then); any other payload gets model instances at once, loaded in one
    query per model and database, with the missing-row policy applied. A refused global raises
    :class:`~django_cereal.exceptions.PickleRefused` (for a task message: when the task starts).
    """
    if isinstance(data, str):
        data = data.encode("latin-1")
    return lazy.arguments().decode(functools.partial(_decode, bytes(data)))


#: django-cereal 0.2.1's names of the encoder and decoder.
model_encode = dumps
model_decode = loads


#: ``(encoder, decoder, content type, content encoding)``: the ``kombu.serializers`` entry point.
register_args = (dumps, loads, CONTENT_TYPE, "binary")

#: The ``task`` decorator: a Celery task whose serializer defaults to ``django-cereal-pickle``.
task = TaskDecorator(DJANGO_CEREAL_PICKLE, __name__)
