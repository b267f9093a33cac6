"""The ``django-cereal-json`` serializer: kombu's JSON, with model instances sent as references.

Everything kombu's JSON handles keeps working (datetimes, Decimals, UUIDs, bytes); a model
instance becomes ``{"__cereal__": [label, pk]}`` (``[label, pk, alias]`` off the default
database), sets become ``{"__cereal_set__": [...]}``. Decoding cannot run code, which makes
this the recommended serializer. Content type: ``application/x-django-cereal-json``.
"""

from __future__ import annotations

from typing import Any

from . import DJANGO_CEREAL_JSON
from .tasks import make_task_decorator

__all__ = ["CONTENT_TYPE", "DJANGO_CEREAL_JSON", "dumps", "loads", "task"]

CONTENT_TYPE = "application/x-django-cereal-json"
REFERENCE_KEY = "__cereal__"
SET_KEY = "__cereal_set__"
_encoder_class: type | None = None


def _encoder() -> type:
    global _encoder_class
    if _encoder_class is None:
        from django.db.models import Model, QuerySet
        from kombu.utils.json import JSONEncoder

        from .references import Reference, reference_for, references_for_queryset

        class ReferenceEncoder(JSONEncoder):
            def default(self, o: Any) -> Any:
                if isinstance(o, Model):
                    return {REFERENCE_KEY: reference_for(o).key()}
                if isinstance(o, Reference):
                    return {REFERENCE_KEY: o.key()}
                if isinstance(o, QuerySet):
                    return references_for_queryset(o)
                if isinstance(o, (set, frozenset)):
                    return {SET_KEY: list(o)}
                return super().default(o)

        _encoder_class = ReferenceEncoder
    return _encoder_class


def dumps(obj: Any) -> str:
    """Encode ``obj`` as JSON with every model instance replaced by a reference."""
    from kombu.utils.json import dumps as kombu_dumps

    return kombu_dumps(obj, cls=_encoder())


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if REFERENCE_KEY in obj:
            from .references import Reference

            return Reference(*obj[REFERENCE_KEY])
        if SET_KEY in obj:
            return set(obj[SET_KEY])
    from kombu.utils.json import object_hook

    return object_hook(obj)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode ``data``; references become placeholders loaded when the task starts.

    Never touches the database, so it cannot fail because a row is missing.
    """
    from kombu.utils.json import loads as kombu_loads

    from .references import wrap_body

    return wrap_body(kombu_loads(data, object_hook=_object_hook))


#: ``(encoder, decoder, content type, content encoding)``: the ``kombu.serializers`` entry point.
register_args = (dumps, loads, CONTENT_TYPE, "utf-8")

task = make_task_decorator(DJANGO_CEREAL_JSON)
task.__module__ = __name__
