"""The ``django-cereal-json`` serializer: kombu's JSON, with model instances sent as references.

Everything kombu's JSON handles keeps working (datetimes, Decimals, UUIDs, bytes); a model
instance becomes ``{"__cereal__": [label, pk]}`` (``[label, pk, alias]`` off the default
database), a list of instances of one model ``{"__cereal_list__": [label, [pk, ...]]}`` and a
set ``{"__cereal_set__": [...]}``. Decoding cannot run code, which makes
this the recommended serializer. Content type: ``application/x-django-cereal-json``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

# kombu imports this module while it loads its serializer entry points; kombu.utils.json is
# loaded by then, and (unlike kombu.serialization) importing it here causes no import cycle.
from kombu.utils import json as kombu_json

from . import DJANGO_CEREAL_JSON, lazy
from .exceptions import InvalidReference
from .tasks import TaskDecorator

if TYPE_CHECKING:
    from .arguments import Sink

__all__ = ["CONTENT_TYPE", "DJANGO_CEREAL_JSON", "dumps", "loads", "loads_now", "task"]

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


def _marker_text(obj: dict[str, Any]) -> str:
    try:
        text = kombu_json.dumps(obj)
    except Exception:  # a marker holding a value kombu's JSON cannot write back
        text = repr(obj)
    return text if len(text) <= 120 else f"{text[:117]}..."


def _bad_marker(sink: Sink, obj: dict[str, Any], expected: str, reason: str = "") -> Any:
    detail = f" ({reason})" if reason else ""
    return sink.problem(
        InvalidReference(f"Malformed django-cereal marker {_marker_text(obj)}: expected {expected}{detail}.")
    )


def _reference(sink: Sink, obj: dict[str, Any]) -> Any:
    value = obj[REFERENCE_KEY]
    expected = '[label, pk] or [label, pk, alias], e.g. {"__cereal__": ["books.Book", 3]}'
    if type(value) is not list or len(value) not in (2, 3):
        return _bad_marker(sink, obj, expected)
    try:
        return sink.reference(*value)
    except InvalidReference as exc:
        return _bad_marker(sink, obj, expected, str(exc))


def _group(sink: Sink, obj: dict[str, Any]) -> Any:
    value = obj[LIST_KEY]
    expected = (
        '[label, [pk, ...]] or [label, [pk, ...], alias], e.g. {"__cereal_list__": ["books.Book", [3, 4]]}'
    )
    if type(value) is not list or len(value) not in (2, 3) or type(value[1]) is not list:
        return _bad_marker(sink, obj, expected)
    label, pks, *alias = value
    try:
        return [sink.reference(label, pk, *alias) for pk in pks]
    except InvalidReference as exc:
        return _bad_marker(sink, obj, expected, str(exc))


def _set(sink: Sink, obj: dict[str, Any]) -> Any:
    value = obj[SET_KEY]
    expected = 'a list of hashable items, e.g. {"__cereal_set__": [1, 2]}'
    if type(value) is not list:
        return _bad_marker(sink, obj, expected)
    try:
        return set(value)
    except TypeError as exc:
        return _bad_marker(sink, obj, expected, str(exc))


_MARKERS = {REFERENCE_KEY: _reference, LIST_KEY: _group, SET_KEY: _set}


def _decode(data: bytes | bytearray | memoryview | str, sink: Sink) -> Any:
    """One decoding pass over ``data``; ``sink`` builds what each reference marker stands for."""

    def object_hook(obj: dict[str, Any]) -> Any:
        if len(obj) == 1:
            for key in obj:
                build = _MARKERS.get(key)
                if build is not None:
                    return build(sink, obj)
        return kombu_json.object_hook(obj)

    return kombu_json.loads(data, object_hook=object_hook)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode ``data``.

    A Celery task message gets placeholders that load when the task starts (decoding never
    touches the database then, so it cannot fail because a row is missing); any other payload
    gets model instances at once, loaded in one query per model and database, with the
    missing-row policy applied. A malformed marker raises :class:`~django_cereal.exceptions.InvalidReference`
    (for a task message: when the task starts, so the task fails with a result).
    """
    if isinstance(data, memoryview):
        data = data.tobytes()
    return lazy.arguments().decode(functools.partial(_decode, data))


def loads_now(
    data: bytes | bytearray | str, *, policy: str | None = None, when: str = "when the message was decoded"
) -> Any:
    """Decode ``data`` and load every reference at once, whatever the payload's shape.

    :param policy: the missing-row policy (default: ``DJANGO_CEREAL_MISSING``).
    :param when: how a missing-row error names the moment of loading.
    """
    return lazy.arguments().decode(
        functools.partial(_decode, data), lazy_tasks=False, policy=policy, when=when
    )


#: ``(encoder, decoder, content type, content encoding)``: the ``kombu.serializers`` entry point.
register_args = (dumps, loads, CONTENT_TYPE, "utf-8")

#: The ``task`` decorator: a Celery task whose serializer defaults to ``django-cereal-json``.
task = TaskDecorator(DJANGO_CEREAL_JSON, __name__)
