"""The simple layer: one string key per object, ``<prefix>:<pk>`` holding the serialized object."""

from __future__ import annotations

import re
from typing import Any

from schematics import models, types

from .base import BaseRedisMixin
from .exceptions import StrictPerformanceException
from .pipeline import raw_pipeline
from .runner import Call, Plan, ScanKeys

__all__ = ["SimpleRedisMixin", "SimpleRedisModel"]

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """``text`` with the characters SCAN MATCH treats as wildcards escaped."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class SimpleRedisMixin(BaseRedisMixin):
    """One key per object: ``SET <prefix>:<pk> <json> [EX __expire__]``.

    Fast ``match_for_pk``/``set``/``delete``, each object expires on its own; ``all()`` and
    ``filter()`` SCAN the keyspace for ``<prefix>:*`` and read every object.
    """

    @classmethod
    def _scan_pattern(cls) -> str:
        prefix = cls._setting("__prefix__")
        return f"{glob_escape(prefix)}:*" if prefix else "*"

    @classmethod
    def _get_plan(cls, pk: str) -> Plan:
        raw = yield Call("get", (cls._key_for(pk),))
        return None if raw is None else cls._load(cls.__deserializer__(raw), pk)

    @classmethod
    def _all_plan(cls) -> Plan:
        if cls.__strict_performance__:
            raise StrictPerformanceException(
                f"{cls.__name__}.all() scans the keyspace and __strict_performance__ is set"
            )
        keys = yield ScanKeys(cls._scan_pattern())
        if not keys:
            return []
        raws = yield Call("mget", (keys,))
        # A key that expired (or was deleted) between SCAN and MGET reads as None: skip it.
        return [cls._decode(raw, key) for key, raw in zip(keys, raws) if raw is not None]

    def _save_plan(self, pk: str, primitive: dict[str, Any]) -> Plan:
        value = self.__serializer__(primitive)
        ttl = self._ttl_ms()
        yield Call("set", (type(self)._key_for(pk), value), {"px": ttl} if ttl else {})

    def _queue_save(self, pipeline: Any, pk: str, primitive: dict[str, Any]) -> None:
        # The command of _save_plan, queued as is.
        pipe = raw_pipeline(pipeline)
        key, value, ttl = type(self)._key_for(pk), self.__serializer__(primitive), self._ttl_ms()
        if ttl:
            pipe.execute_command("SET", key, value, "PX", ttl)
        else:
            pipe.execute_command("SET", key, value)

    @classmethod
    def _delete_plan(cls, pks: list[str]) -> Plan:
        return (yield Call("delete", tuple(cls._key_for(pk) for pk in pks)))

    @classmethod
    def _delete_all_plan(cls) -> Plan:
        keys = yield ScanKeys(cls._scan_pattern())
        if not keys:
            return 0
        return (yield Call("delete", tuple(keys)))


class SimpleRedisModel(models.Model, SimpleRedisMixin):
    """A schematics ``Model`` stored with :class:`SimpleRedisMixin`, with a ``pk`` field."""

    pk = types.StringType()
