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

from . import DJANGO_CEREAL_PICKLE
from .tasks import make_task_decorator

__all__ = ["CONTENT_TYPE", "DJANGO_CEREAL_PICKLE", "dumps", "loads", "task"]

CONTENT_TYPE = "application/x-django-cereal-pickle"
PROTOCOL = 4
_types: tuple[type, type, type] | None = None


def _model_types() -> tuple[type, type, type]:
    global _types
    if _types is None:
        from django.db.models import Model, QuerySet

        from .references import Reference

        _types = (Model, Reference, QuerySet)
    return _types


class _ReferencePickler(pickle.Pickler):
    """Pickles model instances as ``(label, pk[, alias])`` references; everything else as usual."""

    def reducer_override(self, obj: Any) -> Any:
        model, reference, queryset = _model_types()
        if isinstance(obj, model):
            from .references import _ref, reference_for

            return (_ref, reference_for(obj).key())
        if isinstance(obj, reference):
            from .references import _ref

            return (_ref, obj.key())
        if isinstance(obj, queryset):
            from .references import references_for_queryset

            return (list, (references_for_queryset(obj),))
        return NotImplemented


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` with every model instance replaced by a reference (unsaved ones refused)."""
    buffer = io.BytesIO()
    _ReferencePickler(buffer, PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Unpickle ``data``; references become placeholders loaded when the task starts.

    Never touches the database, so it cannot fail because a row is missing.
    """
    from .references import wrap_body

    if isinstance(data, str):
        data = data.encode("latin-1")
    return wrap_body(pickle.loads(data))


#: ``(encoder, decoder, content type, content encoding)``: the ``kombu.serializers`` entry point.
register_args = (dumps, loads, CONTENT_TYPE, "binary")

task = make_task_decorator(DJANGO_CEREAL_PICKLE)
task.__module__ = __name__
