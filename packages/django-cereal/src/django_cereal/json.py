"""The ``django-cereal-json`` serializer: kombu's JSON, with model instances sent as references.

Everything kombu's JSON handles keeps working (datetimes, Decimals, UUIDs, bytes); a model
instance becomes ``{"__cereal__": [label, pk]}`` (``[label, pk, alias]`` off the default
database), a list of instances of one model ``{"__cereal_list__": [label, [pk, ...]]}`` and a
set ``{"__cereal_set__": [...]}``. Decoding cannot run code, which makes
this the recommended serializer. Content type: ``application/x-django-cereal-json``.
"""

from __future__ import annotations

from typing import Any

# kombu imports this module while it loads its serializer entry points; kombu.utils.json is
# loaded by then, and (unlike kombu.serialization) importing it here causes no import cycle.
from kombu.utils import json as kombu_json

from . import DJANGO_CEREAL_JSON, lazy
from .tasks import make_task_decorator

__all__ = ["CONTENT_TYPE", "DJANGO_CEREAL_JSON", "dumps", "loads", "task"]

CONTENT_TYPE = "application/x-django-cereal-json"
REFERENCE_KEY = "__cereal__"
LIST_KEY = "__cereal_list__"
SET_KEY = "__cereal_set__"
_encoder_class: type | None = None


def _encoder() -> type:
    global _encoder_class
    if _encoder_class is None:

        class ReferenceEncoder(kombu_json.JSONEncoder):
            """kombu's encoder, plus model instances found where :func:`_prepare` did not look."""

            def default(self, o: Any) -> Any:
                prepared = _prepare(o)
                if prepared is not o:
                    return prepared
                return super().default(o)

        _encoder_class = ReferenceEncoder
    return _encoder_class


def _prepare(value: Any) -> Any:
    """``value`` with model instances, querysets and sets replaced by their JSON markers."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is float or kind is bool:
        return value
    refs, args = lazy.references(), lazy.arguments()
    if kind is dict or kind is args.LazyKwargs:
        return {key: _prepare(item) for key, item in dict.items(value)}
    if kind is list or isinstance(value, tuple):
        items = list(tuple.__iter__(value)) if kind is args.LazyArgs else value
        group = refs.group_key(items)
        if group is not None:
            return {LIST_KEY: group}
        return [_prepare(item) for item in items]
    if kind is set or kind is frozenset:
        return {SET_KEY: [_prepare(item) for item in value]}
    if isinstance(value, refs.Model):
        return {REFERENCE_KEY: refs.instance_key(value)}
    if kind is refs.Reference:
        return {REFERENCE_KEY: value.key()}
    if isinstance(value, refs.QuerySet):
        key = refs.queryset_key(value)
        return {LIST_KEY: key} if isinstance(key, tuple) else key
    return value


def dumps(obj: Any) -> str:
    """Encode ``obj`` as JSON with every model instance replaced by a reference."""
    return kombu_json.dumps(_prepare(obj), cls=_encoder())


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if REFERENCE_KEY in obj:
            return lazy.references().Reference(*obj[REFERENCE_KEY])
        if LIST_KEY in obj:
            return lazy.references().references(*obj[LIST_KEY])
        if SET_KEY in obj:
            return set(obj[SET_KEY])
    return kombu_json.object_hook(obj)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode ``data``; references become placeholders loaded when the task starts.

    Never touches the database, so it cannot fail because a row is missing.
    """
    return lazy.arguments().wrap_body(kombu_json.loads(data, object_hook=_object_hook))


#: ``(encoder, decoder, content type, content encoding)``: the ``kombu.serializers`` entry point.
register_args = (dumps, loads, CONTENT_TYPE, "utf-8")

task = make_task_decorator(DJANGO_CEREAL_JSON)
task.__module__ = __name__
