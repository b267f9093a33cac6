"""The indexed layer: one hash per object and secondary indexes kept in plain Redis.

Keys, all sharing the hash tag ``{<prefix>}`` so that one Lua script may touch them on a cluster:

* ``{P}:obj:<pk>``: the object, one hash field per attribute (each value serialized);
* ``{P}:members``: sorted set of every pk, scored by expiry time in ms (``+inf``: none);
* ``{P}:entries``: hash pk -> JSON list of the index keys the object is in (for clean updates);
* ``{P}:eq:<field>:<value>``: set of pks per value of an indexed field (equality, ``__in``);
* ``{P}:range:<field>``: sorted set pk -> score for indexed numbers, dates and datetimes.

Every write is one Lua script, so the object and its index entries change together; the entries
of an object's old values are removed when it is re-saved, deleted, or found expired.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
import weakref
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar

from schematics import models, types
from schematics.exceptions import DataError, ValidationError
from schematics.types import DateTimeType, DateType, NumberType
from schematics.undefined import Undefined

from .base import BaseRedisMixin, as_text
from .exceptions import ConfigurationError, InvalidFilter, StrictPerformanceException
from .keyspace import KeySpace
from .lookups import Condition, matches
from .pipeline import BatchingPipeline
from .runner import Call, Eval, Plan, queue, run_async, run_sync
from .scripts import DELETE, QUERY, SAVE, SAVE_MANY, SWEEP

__all__ = ["IndexedRedisMixin", "IndexedRedisModel"]

_RANGE_TYPES = (NumberType, DateType, DateTimeType)
_SEPARATOR = "\x1f"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_ .:-]+")  # names that stand in JSON quotes unescaped
_json_prefixes: weakref.WeakKeyDictionary[type, dict[Any, Any]] = weakref.WeakKeyDictionary()
_json_text = json.JSONEncoder().encode  # what json.dumps(value) gives, without its argument handling
_token_text = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode
_index_plans: weakref.WeakKeyDictionary[type, tuple[Any, dict[str, bool]]] = weakref.WeakKeyDictionary()
_INDEXABLE_OPS = {"eq", "in", "gt", "gte", "lt", "lte"}


def _score(value: Any) -> float:
    """Sort key of a range-indexed value (naive datetimes count as UTC).

    :raises OverflowError: an int beyond a double. :raises ValueError: a signaling NaN.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dt.date):
        return float(value.toordinal())
    return float(value)


def _stored_score(field: str, value: Any) -> str:
    """The score text of a value going into a range index.

    :raises DataError: NaN, an infinity, or a number beyond a double, which no score can hold.
    """
    try:
        score = _score(value)
    except (ArithmeticError, ValueError):
        score = math.nan
    if not math.isfinite(score):
        raise DataError(
            {
                field: ValidationError(
                    f"{value!r} cannot go into the range index of {field}: it holds finite numbers "
                    f"within ±{sys.float_info.max:.4g} only"
                )
            }
        )
    return repr(score)


def _filter_score(model: Any, field: str, value: Any) -> str:
    """The score text of a filter bound on a range index (an infinity is an open bound).

    :raises InvalidFilter: for a number beyond a double.
    """
    try:
        score = _score(value)
    except (ArithmeticError, ValueError) as error:
        raise InvalidFilter(
            f"{model.__name__}.{field}: cannot use {value!r} in a filter ({error})"
        ) from error
    infinite = isinstance(value, float) or (isinstance(value, Decimal) and value.is_infinite())
    if math.isnan(score) or (math.isinf(score) and not infinite):
        raise InvalidFilter(
            f"{model.__name__}.{field}: cannot use {value!r} in a filter: its range index holds "
            f"finite numbers within ±{sys.float_info.max:.4g} only"
        )
    return repr(score)


class IndexedRedisMixin(BaseRedisMixin):
    """One hash per object plus declared secondary indexes: ``__indexes__ = ("flavour", "amount")``.

    ``filter()``/``match_for_values()`` with at least one ``eq``/``in``/``gt``/``gte``/``lt``/``lte``
    condition on an indexed field read only the matching objects (no scan); other conditions are
    then checked in Python. Numbers, dates and datetimes get a sorted set (ranges and equality),
    every other type a set per value.
    """

    __indexes__: ClassVar[Iterable[str]] = ()

    # ------------------------------------------------------------------ keys

    @classmethod
    def _key_space(cls) -> KeySpace | None:
        prefix = cls._static_prefix()
        return None if prefix is None else KeySpace("{" + (prefix or cls.__name__) + "}", True, "indexed")

    @classmethod
    def _tag(cls) -> str:
        return "{" + (cls._setting("__prefix__") or cls.__name__) + "}"

    @classmethod
    def _object_prefix(cls) -> str:
        return f"{cls._tag()}:obj:"

    @classmethod
    def _key_for(cls, pk: str) -> str:
        return f"{cls._object_prefix()}{pk}"

    @classmethod
    def _members_key(cls) -> str:
        return f"{cls._tag()}:members"

    @classmethod
    def _entries_key(cls) -> str:
        return f"{cls._tag()}:entries"

    @classmethod
    def _index_fields(cls) -> dict[str, bool]:
        """Indexed field name -> whether it uses a sorted set (range index); worked out once per
        value of ``__indexes__``."""
        declared = cls.__indexes__
        cached = _index_plans.get(cls)
        if cached is not None and cached[0] is declared:
            return cached[1]
        names = tuple(declared)
        unknown = [name for name in names if name not in cls._schema.fields]
        if unknown:
            raise ConfigurationError(f"{cls.__name__}.__indexes__ names unknown fields {unknown}")
        fields = {name: isinstance(cls._schema.fields[name], _RANGE_TYPES) for name in names}
        _index_plans[cls] = (declared, fields)
        return fields

    @classmethod
    def _token(cls, field: str, value: Any) -> str:
        primitive = None if value is None else cls._schema.fields[field].to_primitive(value)
        return _token_text(primitive)

    @classmethod
    def _eq_key(cls, field: str, value: Any) -> str:
        return f"{cls._tag()}:eq:{field}:{cls._token(field, value)}"

    @classmethod
    def _range_key(cls, field: str) -> str:
        return f"{cls._tag()}:range:{field}"

    # ------------------------------------------------------------------ reading

    @classmethod
    def _json_prefixes(cls) -> dict[Any, Any]:
        """Field name (str and bytes, plain and serialized) -> its ``"name":`` JSON member prefix,
        for the names that need no escaping inside JSON."""
        prefixes = _json_prefixes.get(cls)
        if prefixes is None:
            prefixes = {}
            for name, field in cls._schema.fields.items():
                for text in (name, field.serialized_name):
                    if text and _PLAIN_NAME.fullmatch(text):
                        prefixes[text] = f'"{text}":'
                        prefixes[text.encode()] = f'"{text}":'.encode()
            _json_prefixes[cls] = prefixes
        return prefixes

    @classmethod
    def _from_fields(cls, pk: Any, stored: Any) -> Any:
        """An object from a hash reply (a dict from HGETALL, a flat list from a script).

        With the default deserializer the values are JSON texts: when every field name is a known
        one that needs no escaping, they are joined, as they are, into one JSON object text and
        decoded by one ``json.loads``; otherwise each value is decoded on its own.
        """
        if not isinstance(stored, dict):
            stored = dict(zip(stored[::2], stored[1::2]))
        if stored and cls.__deserializer__ is BaseRedisMixin.__deserializer__:
            prefixes = cls._json_prefixes()
            try:
                members = [prefixes[name] + value for name, value in stored.items()]
            except (KeyError, TypeError):  # an unexpected field name: decode value by value
                pass
            else:
                if isinstance(members[0], bytes):
                    return cls._load(json.loads(b"{" + b",".join(members) + b"}"), as_text(pk))
                return cls._load(json.loads("{" + ",".join(members) + "}"), as_text(pk))
        data = {as_text(name): cls.__deserializer__(value) for name, value in stored.items()}
        return cls._load(data, as_text(pk))

    @classmethod
    def _get_plan(cls, pk: str) -> Plan:
        stored = yield Call("hgetall", (cls._key_for(pk),))
        return cls._from_fields(pk, stored) if stored else None

    @classmethod
    def _query_plan(cls, conditions: list[dict[str, Any]]) -> Plan:
        reply = yield Eval(
            QUERY,
            (cls._members_key(), cls._entries_key()),
            (cls._object_prefix(), json.dumps(conditions)),
        )
        return [cls._from_fields(pk, flat) for pk, flat in zip(reply[::2], reply[1::2])]

    @classmethod
    def _all_plan(cls) -> Plan:
        return (yield from cls._query_plan([]))

    @classmethod
    def _index_condition(cls, condition: Condition, ranged: bool) -> dict[str, Any] | None:
        """The server-side form of ``condition`` on an indexed field, or None if it can't use the index.

        Range bounds are inclusive: the conversion to a float score may merge neighbours, and
        every condition is re-checked exactly in Python afterwards.
        """
        op, value = condition.op, condition.value
        if op not in _INDEXABLE_OPS:
            return None
        values = value if op == "in" else [value]
        if not ranged:
            if op not in ("eq", "in"):
                return None
            return {"s": [cls._eq_key(condition.field, item) for item in values]}
        if any(item is None for item in values):
            return None
        key = cls._range_key(condition.field)
        field = condition.field
        if op in ("eq", "in"):
            points = sorted({_filter_score(cls, field, item) for item in values})
            return {"z": key, "r": [[point, point] for point in points]} if points else {"s": []}
        score = _filter_score(cls, field, value)
        low, high = (score, "+inf") if op in ("gt", "gte") else ("-inf", score)
        return {"z": key, "r": [[low, high]]}

    @classmethod
    def _filter_plan(cls, conditions: list[Condition]) -> Plan:
        indexes = cls._index_fields()
        server = []
        for condition in conditions:
            if condition.field in indexes:
                translated = cls._index_condition(condition, indexes[condition.field])
                if translated is not None:
                    server.append(translated)
        if not server and conditions and cls.__strict_performance__:
            raise StrictPerformanceException(
                f"{cls.__name__}.filter() on {[c.field for c in conditions]} uses no index "
                f"(indexes: {list(indexes)}) and __strict_performance__ is set"
            )
        objects = yield from cls._query_plan(server)
        return [obj for obj in objects if matches(obj, conditions)]

    # ------------------------------------------------------------------ writing

    def _save_eval(self, pk: str, primitive: dict[str, Any], pipeline: Any = None) -> Eval | None:
        """The SAVE script call writing this (just validated) object and its index entries; or,
        given one of our pipelines, None once the save has joined the pipeline's SAVE_MANY batch."""
        cls = type(self)
        tag = cls._tag()
        values = self._data.valid  # type: ignore[attr-defined]  # validation leaves every value here
        # Keys spelled as in _key_for, _members_key, _entries_key, _range_key and _eq_key.
        entries: list[list[str]] = []
        for field, ranged in cls._index_fields().items():
            value = values.get(field)
            if value is Undefined:
                value = None
            if ranged:
                if value is not None:
                    entries.append(["z", f"{tag}:range:{field}", _stored_score(field, value)])
            else:
                entries.append(["s", f"{tag}:eq:{field}:{cls._token(field, value)}"])
        ttl = self._ttl_ms() or 0
        members, entries_key = f"{tag}:members", f"{tag}:entries"
        if cls.__serializer__ is BaseRedisMixin.__serializer__:
            # JSON texts never hold a raw control character: names and values go joined by \x1f.
            names = _SEPARATOR.join(primitive)
            if names.count(_SEPARATOR) == len(primitive) - 1:
                joined = _SEPARATOR.join([_json_text(value) for value in primitive.values()])
                if isinstance(pipeline, BatchingPipeline):  # one SAVE_MANY call for back-to-back saves
                    pipeline.add_to_batch(
                        SAVE_MANY, (members, entries_key), (pk, ttl, _json_text(entries), names, joined)
                    )
                    return None
                keys = (f"{tag}:obj:{pk}", members, entries_key)
                return Eval(SAVE, keys, (ttl, _json_text(entries), names, joined))
        serialize = self.__serializer__
        args: list[Any] = [ttl, _json_text(entries), ""]
        for name, value in primitive.items():
            args += (name, serialize(value))
        return Eval(SAVE, (f"{tag}:obj:{pk}", members, entries_key), tuple(args))

    def _save_plan(self, pk: str, primitive: dict[str, Any]) -> Plan:
        yield self._save_eval(pk, primitive)

    def _queue_save(self, pipeline: Any, pk: str, primitive: dict[str, Any]) -> None:
        call = self._save_eval(pk, primitive, pipeline)
        if call is not None:
            queue(pipeline, call)

    @classmethod
    def _delete_plan(cls, pks: list[str]) -> Plan:
        if not pks:
            return 0
        return (yield Eval(DELETE, (cls._members_key(), cls._entries_key()), (cls._object_prefix(), *pks)))

    @classmethod
    def _delete_all_plan(cls) -> Plan:
        return (yield Eval(DELETE, (cls._members_key(), cls._entries_key()), (cls._object_prefix(),)))

    @classmethod
    def _sweep_plan(cls) -> Plan:
        return (yield Eval(SWEEP, (cls._members_key(), cls._entries_key()), (cls._object_prefix(),)))

    @classmethod
    def sweep(cls) -> int:
        """Drop the index entries of expired objects now; return how many objects were swept.

        Queries already skip and sweep expired objects they meet; call this (e.g. periodically)
        to reclaim the memory of entries no query touches.
        """
        return run_sync(cls._sweep_plan(), cls._client())

    @classmethod
    async def asweep(cls) -> int:
        """Async :meth:`sweep`."""
        return await run_async(cls._sweep_plan(), cls._async_client())


class IndexedRedisModel(models.Model, IndexedRedisMixin):
    """A schematics ``Model`` stored with :class:`IndexedRedisMixin`, with a ``pk`` field."""

    pk = types.StringType()
