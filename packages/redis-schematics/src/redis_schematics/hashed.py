"""The hash layer: one Redis hash per class, field ``<prefix>:<pk>`` holding the serialized object."""

from __future__ import annotations

from typing import Any

from schematics import models, types

from .base import BaseRedisMixin
from .keyspace import KeySpace
from .pipeline import raw_pipeline
from .runner import Batch, Call, Eval, Plan, queue
from .scripts import HASH_SET

__all__ = ["HashRedisMixin", "HashRedisModel"]


class HashRedisMixin(BaseRedisMixin):
    """Every object of the class in one hash, ``__set_key__`` (the prefix by default).

    ``__set_key__`` may be overridden with a string or a property (e.g. one hash per tenant).
    ``__expire__`` applies to the whole hash and is renewed by each ``set()``.
    """

    @property
    def __set_key__(self) -> str:
        """Name of the hash holding every object of the class."""
        return self.__key_pattern__()

    @classmethod
    def _key_space(cls) -> KeySpace | None:
        set_key: Any = cls.__set_key__
        if set_key is HashRedisMixin.__dict__["__set_key__"]:
            if cls.__key_pattern__ is not BaseRedisMixin.__key_pattern__:
                return None
            set_key = cls._static_prefix()
        return KeySpace(set_key, False, "hash") if isinstance(set_key, str) else None

    @classmethod
    def _hash_key(cls) -> str:
        default_layout = (
            cls.__set_key__ is HashRedisMixin.__dict__["__set_key__"]
            and cls.__key_pattern__ is BaseRedisMixin.__key_pattern__
        )
        if default_layout:  # fast path: the hash is named after the prefix
            return cls._setting("__prefix__") or ""
        return cls._setting("__set_key__")

    @classmethod
    def _get_plan(cls, pk: str) -> Plan:
        raw = yield Call("hget", (cls._hash_key(), cls._key_for(pk)))
        return None if raw is None else cls._load(cls.__deserializer__(raw), pk)

    @classmethod
    def _all_plan(cls) -> Plan:
        stored: dict[Any, Any] = yield Call("hgetall", (cls._hash_key(),))
        return [cls._decode(raw, field) for field, raw in stored.items()]

    def _save_plan(self, pk: str, primitive: dict[str, Any]) -> Plan:
        cls = type(self)
        hash_key = cls._hash_key()
        field, value, ttl = cls._key_for(pk), self.__serializer__(primitive), self._ttl_ms()
        if ttl:  # one script, so the write and the TTL renewal stay together
            yield Eval(HASH_SET, (hash_key,), (field, value, ttl))
        else:
            yield Call("hset", (hash_key, field, value))

    def _queue_save(self, pipeline: Any, pk: str, primitive: dict[str, Any]) -> None:
        # The command of _save_plan, queued as is.
        cls = type(self)
        hash_key, field, value = cls._hash_key(), cls._key_for(pk), self.__serializer__(primitive)
        ttl = self._ttl_ms()
        if ttl:
            queue(pipeline, Eval(HASH_SET, (hash_key,), (field, value, ttl)))
        else:
            raw_pipeline(pipeline).execute_command("HSET", hash_key, field, value)

    @classmethod
    def _delete_plan(cls, pks: list[str]) -> Plan:
        return (yield Call("hdel", (cls._hash_key(), *(cls._key_for(pk) for pk in pks))))

    @classmethod
    def _delete_all_plan(cls) -> Plan:
        hash_key = cls._hash_key()
        count, _ = yield Batch((Call("hlen", (hash_key,)), Call("delete", (hash_key,))))
        return count


class HashRedisModel(models.Model, HashRedisMixin):
    """A schematics ``Model`` stored with :class:`HashRedisMixin`, with a ``pk`` field."""

    pk = types.StringType()
