"""The simple layer: one string key per object, ``<prefix>:<pk>`` holding the serialized object."""

from __future__ import annotations

import re
from typing import Any

from schematics import models, types

from .base import BaseRedisMixin, as_text
from .exceptions import StrictPerformanceException
from .keyspace import KeySpace
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
    def _key_space(cls) -> KeySpace | None:
        prefix = cls._static_prefix()
        if prefix is None or cls.__key_pattern__ is not BaseRedisMixin.__key_pattern__:
            return None
        return KeySpace(prefix, True, "simple")

    @classmethod
    def _scan(cls) -> ScanKeys:
        """Every string key under the prefix: objects of this class, and of any class whose prefix
        nests inside this one (told apart by :meth:`_own_objects`)."""
        prefix = cls._setting("__prefix__")
        return ScanKeys(f"{glob_escape(prefix)}:*" if prefix else "*", type="string")

    @classmethod
    def _own_objects(cls, keys: list[Any], raws: list[Any]) -> list[tuple[Any, Any]]:
        """``(key, object)`` for each scanned key that holds an object of this class.

        An object whose stored identity (its pk, else its id or ``__unique_together__`` values)
        would live under another key belongs to another class whose prefix nests inside this
        one (``F:a:1`` is object ``1`` of prefix ``F:a``, not ``a:1`` of ``F``): it is skipped.
        A record that names no identity is taken as this class's, with its pk from the key.
        """
        own = []
        for key, raw in zip(keys, raws):
            if raw is None:  # expired or deleted between SCAN and MGET
                continue
            key_text = as_text(key)
            data = cls.__deserializer__(raw)
            stored_pk = data.get("pk") if isinstance(data, dict) else None
            if stored_pk is not None and stored_pk != "":
                if cls._key_for(str(stored_pk)) != key_text:
                    continue
                own.append((key, cls._load(data)))
                continue
            obj = cls._load(data)
            identity = obj.__primary_key__
            if identity is None:
                obj = cls._decode_data(data, key_text)
            elif cls._key_for(identity) != key_text:
                continue
            own.append((key, obj))
        return own

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
        keys = yield cls._scan()
        if not keys:
            return []
        raws = yield Call("mget", (keys,))
        return [obj for _, obj in cls._own_objects(keys, raws)]

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
        keys = yield cls._scan()
        if not keys:
            return 0
        raws = yield Call("mget", (keys,))
        own = tuple(key for key, _ in cls._own_objects(keys, raws))
        if not own:
            return 0
        return (yield Call("delete", own))


class SimpleRedisModel(models.Model, SimpleRedisMixin):
    """A schematics ``Model`` stored with :class:`SimpleRedisMixin`, with a ``pk`` field."""

    pk = types.StringType()
