"""The ``django-cereal-pickle`` serializer: pickle, with model instances sent as references.

Encoding uses a private :class:`pickle.Pickler` subclass (``reducer_override``), so plain
``pickle.dumps`` and kombu's own ``pickle`` serializer are never affected, in any thread.
The content type is ``application/x-django-cereal-pickle``: kombu's pickle decoder is not
replaced. Like any pickle, a payload can run code when decoded: accept it only from a broker
you trust, or use :mod:`django_cereal.json`.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from . import DJANGO_CEREAL_PICKLE, lazy
from .tasks import make_task_decorator

__all__ = ["CONTENT_TYPE", "DJANGO_CEREAL_PICKLE", "dumps", "loads", "task"]

CONTENT_TYPE = "application/x-django-cereal-pickle"
PROTOCOL = 4
_LIST, _TUPLE = 0, 1


class _ReferencePickler(pickle.Pickler):
    """Writes model instances as persistent ids; everything else is pickled as usual.

    Persistent ids: ``(label, pk[, alias])`` for one instance, and ``(kind, label, [pk, ...][, alias])``
    for a list or tuple of instances of one model (a queryset is sent as a list).
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
        if isinstance(obj, refs.QuerySet):
            key = refs.queryset_key(obj)
            return (_LIST, *key) if isinstance(key, tuple) else None
        return None


class _ReferenceUnpickler(pickle.Unpickler):
    """Turns persistent ids back into :class:`~django_cereal.references.Reference` placeholders."""

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is not tuple or not pid:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        if type(pid[0]) is str:
            return lazy.references().Reference(*pid)
        kind, *group = pid
        refs = lazy.references().references(*group)
        return refs if kind == _LIST else tuple(refs)


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` with every model instance replaced by a reference (unsaved ones refused)."""
    buffer = io.BytesIO()
    _ReferencePickler(buffer, PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Unpickle ``data``; references become placeholders loaded when the task starts.

    Never touches the database, so it cannot fail because a row is missing.
    """
    if isinstance(data, str):
        data = data.encode("latin-1")
    return lazy.arguments().wrap_body(_ReferenceUnpickler(io.BytesIO(data)).load())


#: ``(encoder, decoder, content type, content encoding)``: the ``kombu.serializers`` entry point.
register_args = (dumps, loads, CONTENT_TYPE, "binary")

task = make_task_decorator(DJANGO_CEREAL_PICKLE)
task.__module__ = __name__
