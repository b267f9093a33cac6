"""``BaseRedisMixin``: settings, primary keys, keys, serialization and the public API of every layer.

A layer subclasses it and supplies *plans* (see :mod:`redis_schematics.runner`):
``_get_plan``, ``_all_plan``, ``_save_plan``, ``_delete_plan``, ``_delete_all_plan`` and
optionally ``_filter_plan``. Each public method exists twice: ``set()`` on a ``redis.Redis`` /
``RedisCluster`` in ``__redis_client__``, ``aset()`` on a ``redis.asyncio`` client in
``__async_redis_client__``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

from schematics.common import DEFAULT
from schematics.exceptions import CompoundError, ConversionError, DataError, FieldError
from schematics.models import ModelMeta
from schematics.types import BaseType, BooleanType, FloatType, IntType, LongType, StringType
from schematics.types.compound import CompoundType
from schematics.types.serializable import Serializable
from schematics.undefined import Undefined
from schematics.validate import get_validation_context

from .exceptions import ConfigurationError, MultipleFound, NotFound, StrictPerformanceException
from .keyspace import KeySpace, register
from .lookups import Condition, matches, parse_filters
from .pipeline import AsyncPipeline, Pipeline
from .runner import Plan, run_async, run_sync

__all__ = ["BaseRedisMixin"]

M = TypeVar("M", bound="BaseRedisMixin")

# Plans and prototypes worked out once per class live in the class's own namespace (its fields
# point back at it, so a module-level cache keyed by the class would keep it alive for ever).
_CACHE = "_redis_schematics_cache"


def class_cache(cls: type) -> dict[str, Any]:
    """The per-class cache of ``cls`` itself (never inherited)."""
    cache = cls.__dict__.get(_CACHE)
    if cache is None:
        cache = {}
        setattr(cls, _CACHE, cache)
    return cache


class _WritePlan(NamedTuple):
    """What writing an object of a plain model needs, worked out once per class."""

    identity: tuple[str, ...]  # "pk" / "id" fields, in the order they give the primary key
    has_pk: bool
    fields: tuple[tuple[str, Any, bool, Any], ...]  # name, type, check required?, to_primitive or None


# Stock field types whose to_native returns a value of this exact type unchanged.
_IDENTITY_NATIVES: dict[type, type] = {
    StringType: str,
    IntType: int,
    LongType: int,
    FloatType: float,
    BooleanType: bool,
}


def as_text(value: Any) -> str:
    """A reply or key as str (bytes are decoded as UTF-8)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _redefines(field: Any, method: str) -> bool:
    """Whether the field's type has its own ``method`` instead of ``BaseType``'s."""
    return getattr(type(field), method) is not getattr(BaseType, method)


def _arithmetic_text(value: Any, error: ArithmeticError) -> str:
    return f"{value!r} is not a finite number this field can hold ({error})"


def expire_ms(expire: Any, owner: str) -> int | None:
    """``__expire__`` (seconds as an int, float or Decimal, or a ``timedelta``; ``None``: no
    expiry) in whole milliseconds, the unit every layer sets (``PX``/``PEXPIRE``).

    :raises ConfigurationError: for anything else, for values that are not finite and positive,
        and for durations under one millisecond.
    """
    if expire is None:
        return None
    seconds: float | None = None
    if isinstance(expire, dt.timedelta):
        seconds = expire.total_seconds()
    elif isinstance(expire, numbers.Real) and not isinstance(expire, bool):
        seconds = float(expire)
    if seconds is None or not math.isfinite(seconds):
        raise ConfigurationError(
            f"{owner}.__expire__ = {expire!r}: give seconds to live as a number or a timedelta "
            "(None for no expiry)"
        )
    ms = round(seconds * 1000)
    if ms < 1:
        raise ConfigurationError(
            f"{owner}.__expire__ = {expire!r}: seconds to live must be at least 0.001 (one "
            "millisecond); use None for no expiry"
        )
    return ms


class BaseRedisMixin:
    """Redis persistence for a ``schematics.models.Model`` (mix it in after ``Model``).

    Class options (all optional but the client):

    * ``__redis_client__``: a ``redis.Redis`` or ``redis.cluster.RedisCluster``;
    * ``__async_redis_client__``: a ``redis.asyncio`` client for the ``a*`` methods;
    * ``__expire__``: seconds to live, ``None`` for no expiry;
    * ``__prefix__``: key namespace, the class name unless overridden (a string or a property);
    * ``__unique_together__``: field names whose values make the primary key
      (``__unique_args__`` is the old spelling and still works);
    * ``__strict_performance__``: raise :class:`StrictPerformanceException` instead of scanning;
    * ``__serializer__`` / ``__deserializer__``: how primitives become stored strings and back.
    """

    __redis_client__: ClassVar[Any] = None
    __async_redis_client__: ClassVar[Any] = None
    __expire__: ClassVar[float | dt.timedelta | None] = None
    __unique_together__: ClassVar[Iterable[str] | None] = None
    __unique_args__: ClassVar[Iterable[str] | None] = None
    __strict_performance__: ClassVar[bool] = False

    _schema: ClassVar[Any]

    if TYPE_CHECKING:
        # schematics' Model (mixed in first) has no type information; its constructor, as seen by
        # type checkers through this mixin:
        def __init__(
            self,
            raw_data: Mapping[str, Any] | None = None,
            trusted_data: Mapping[str, Any] | None = None,
            deserialize_mapping: Mapping[str, Any] | None = None,
            init: bool = True,
            partial: bool = True,
            strict: bool = True,
            validate: bool = False,
            app_data: Any = None,
            lazy: bool = False,
            **kwargs: Any,
        ) -> None: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        expire = cls.__dict__.get("__expire__")
        if not isinstance(expire, property):  # a property is checked on each write
            expire_ms(expire, cls.__name__)
        if isinstance(cls, ModelMeta):  # a model class (mixins own no keys)
            space = cls._key_space()
            if space is not None:
                register(cls, space)

    @classmethod
    def _key_space(cls) -> KeySpace | None:
        """The keys this class owns, when its options are plain strings (layers override it)."""
        return None

    @classmethod
    def _static_prefix(cls) -> str | None:
        """``__prefix__`` when it is known without an instance (a string, or the default)."""
        value = getattr(cls, "__prefix__", None)
        if value is BaseRedisMixin.__dict__["__prefix__"]:
            return cls.__name__
        return value if isinstance(value, str) else None

    @property
    def __prefix__(self) -> str:
        """Namespace of this model's keys: the class name by default."""
        return type(self).__name__

    @staticmethod
    def __serializer__(obj: Any) -> str:
        """Turn a primitive (``to_primitive()`` output) into the stored string."""
        return json.dumps(obj)

    @staticmethod
    def __deserializer__(dump: str | bytes) -> Any:
        """Turn a stored string (or bytes) back into a primitive."""
        return json.loads(dump)

    # ------------------------------------------------------------------ class-level settings

    @classmethod
    def _prototype(cls) -> Any:
        """A blank instance, used to evaluate options written as properties."""
        cache = class_cache(cls)
        proto = cache.get("prototype")
        if proto is None:
            proto = cache["prototype"] = cls()
        return proto

    @classmethod
    def _setting(cls, name: str) -> Any:
        """A class option, evaluating it on a blank instance when it is a property."""
        value = getattr(cls, name)
        if isinstance(value, property):
            if value is BaseRedisMixin.__dict__.get(name):  # the default __prefix__
                return cls.__name__
            return value.fget(cls._prototype())  # type: ignore[misc]
        return value

    @classmethod
    def _client(cls) -> Any:
        client = cls.__redis_client__
        if client is None:
            raise ConfigurationError(
                f"{cls.__name__}.__redis_client__ is not set: assign a redis.Redis or "
                "redis.cluster.RedisCluster to it (or use the a* methods with __async_redis_client__)"
            )
        return client

    @classmethod
    def _async_client(cls) -> Any:
        client = cls.__async_redis_client__
        if client is None:
            raise ConfigurationError(
                f"{cls.__name__}.__async_redis_client__ is not set: assign a redis.asyncio.Redis "
                "or redis.asyncio.cluster.RedisCluster to it to use the a* methods"
            )
        return client

    @classmethod
    def _unique_fields(cls) -> tuple[str, ...]:
        names = tuple(cls.__unique_together__ or cls.__unique_args__ or ())
        unknown = [name for name in names if name not in cls._schema.fields]
        if unknown:
            raise ConfigurationError(f"{cls.__name__}.__unique_together__ names unknown fields {unknown}")
        return names

    @classmethod
    def _key_for(cls, pk: str) -> str:
        """The storage key (or hash field) of the object whose primary key is ``pk``."""
        if cls.__key_pattern__ is not BaseRedisMixin.__key_pattern__:  # a custom layout
            return cls._prototype().__key_pattern__(pk)
        prefix = cls._setting("__prefix__")
        return f"{prefix}:{pk}" if prefix else pk

    # ------------------------------------------------------------------ instance helpers

    @property
    def __primary_key__(self) -> str | None:
        """The object's identity: ``pk``, else ``id``, else the ``__unique_together__`` values
        joined with dots; ``None`` when none of them is set."""
        fields = self._schema.fields
        data = self._data  # type: ignore[attr-defined]
        for name in ("pk", "id"):
            if name in fields:
                value = data.get(name)
                if value is not None and value != "":
                    return str(value)
        names = type(self)._unique_fields()
        if names:
            values = [self.get(name) for name in names]  # type: ignore[attr-defined]
            if all(value is not None for value in values):
                return ".".join(as_text(fields[n].to_primitive(v)) for n, v in zip(names, values))
        return None

    def __key_pattern__(self, *args: str) -> str:
        """Join the prefix and ``args`` with ``:`` (the original key layout)."""
        prefix = type(self)._setting("__prefix__")
        return ":".join(([prefix] if prefix else []) + [str(arg) for arg in args])

    @property
    def key(self) -> str:
        """This object's key (for the hash layer: its field in the class hash)."""
        pk = self.__primary_key__
        if pk is None:
            raise ConfigurationError(f"this {type(self).__name__} has no primary key yet: call set() first")
        return type(self)._key_for(pk)

    def _ttl_ms(self) -> int | None:
        """``__expire__`` in milliseconds (read on the object, so it may be a property)."""
        expire = self.__expire__
        if expire is None:
            return None
        if type(expire) is int and expire > 0:
            return expire * 1000
        return expire_ms(expire, type(self).__name__)

    def __json__(self) -> Any:
        """JSON-ready form of the object (its ``to_primitive()``)."""
        return self.to_primitive()  # type: ignore[attr-defined]

    def _prepare_write(self) -> tuple[str, dict[str, Any]]:
        """Give the object its primary key, then validate it; return the pk and the primitive.

        Validation runs before anything is sent, so invalid data raises schematics'
        ``DataError`` and leaves Redis untouched.
        """
        plan = type(self)._write_plan()
        if plan is not None and not self._data.unsafe:  # type: ignore[attr-defined]
            return self._prepare_plain_write(plan)
        pk = self._new_primary_key()
        if "pk" in self._schema.fields and self.get("pk") != pk:  # type: ignore[attr-defined]
            self.pk = pk
        pending = self._data.converted  # type: ignore[attr-defined]
        try:
            self.validate()  # type: ignore[attr-defined]
        except ArithmeticError as error:  # e.g. int(inf) inside a field's conversion
            # validate() dropped the assigned values on its way out: give them back.
            self._data.converted = pending  # type: ignore[attr-defined]
            raise self._arithmetic_data_error(pending, error) from error
        return pk, self.to_primitive()  # type: ignore[attr-defined]

    def _arithmetic_data_error(self, pending: Mapping[str, Any], error: ArithmeticError) -> DataError:
        """A ``DataError`` naming the field whose conversion raised ``error`` (schematics lets
        ``OverflowError`` and ``decimal.InvalidOperation`` through instead of reporting them)."""
        for name, field_type in self._schema.fields.items():
            value = pending.get(name)
            if value is None or value is Undefined:
                continue
            try:
                field_type.to_native(value)
            except ArithmeticError as found:
                return DataError({name: ConversionError(_arithmetic_text(value, found))})
            except Exception:  # other problems are validate()'s to report
                continue
        return DataError({"": ConversionError(f"a value could not be converted: {error}")})

    def _new_primary_key(self) -> str:
        """The object's primary key, or a fresh unique id when the model has a ``pk`` field."""
        pk = self.__primary_key__
        if pk is None:
            if "pk" not in self._schema.fields:
                raise ConfigurationError(
                    f"{type(self).__name__} needs a primary key: declare pk = StringType() (a unique id "
                    "is generated into it), an id field, or __unique_together__"
                )
            pk = str(uuid.uuid4())
        return pk

    @classmethod
    def _plain_fields(cls) -> dict[str, Any] | None:
        """The fields, when every one converts on its own (no compound types, serializables or
        renamed fields); then loading may skip schematics' generic import loop."""
        cache = class_cache(cls)
        if "plain_fields" not in cache:
            fields = dict(cls._schema.fields)
            plain = all(
                not isinstance(field, (CompoundType, Serializable)) and not field.serialized_name
                for field in fields.values()
            )
            cache["plain_fields"] = fields if plain else None
        return cache["plain_fields"]

    @classmethod
    def _read_plan(cls) -> tuple[tuple[str, Any, type | None], ...] | None:
        """For plain models: each field's name, type, and the native type whose values its
        ``to_native`` returns unchanged (stock scalar types only), worked out once per class."""
        cache = class_cache(cls)
        if "read_plan" in cache:
            return cache["read_plan"]
        fields = cls._plain_fields()
        plan = None
        if fields is not None:
            plan = tuple((name, field, _IDENTITY_NATIVES.get(type(field))) for name, field in fields.items())
        cache["read_plan"] = plan
        return plan

    @classmethod
    def _fast_fields(cls) -> dict[str, Any] | None:
        """The plain fields, when the model also has no model-level validators, roles or export
        settings: then validation and export may run field by field (same rules, far less work)."""
        cache = class_cache(cls)
        if "fast_fields" not in cache:
            fields = cls._plain_fields()
            options = cls._schema.options
            simple = (
                fields is not None
                and not cls._schema.validators
                and not options.roles
                and options.export_level == DEFAULT
                and all(field.export_level is None for field in fields.values())
            )
            cache["fast_fields"] = fields if simple else None
        return cache["fast_fields"]

    @classmethod
    def _write_plan(cls) -> _WritePlan | None:
        """The per-class plan of :meth:`_prepare_plain_write`, or None when the model needs
        schematics' generic ``validate()``/``to_primitive()`` (see :meth:`_fast_fields`)."""
        cache = class_cache(cls)
        if "write_plan" in cache:
            return cache["write_plan"]
        fields = cls._fast_fields()
        plan = None
        if fields is not None and not cls._unique_fields():
            plan = _WritePlan(
                identity=tuple(name for name in ("pk", "id") if name in fields),
                has_pk="pk" in fields,
                fields=tuple(
                    (
                        name,
                        field,
                        # check_required acts on missing values only, unless a type redefines it
                        field.required or _redefines(field, "check_required"),
                        field.to_primitive if _redefines(field, "to_primitive") else None,
                    )
                    for name, field in fields.items()
                ),
            )
        cache["write_plan"] = plan
        return plan

    def _prepare_plain_write(self, plan: _WritePlan) -> tuple[str, dict[str, Any]]:
        """:meth:`_prepare_write` for plain models: each field validated and exported on its own
        under the rules of ``validate()`` + ``to_primitive()`` (required, conversion, the field's
        validators), in one pass over a plan worked out once per class.

        :raises DataError: with schematics' per-field errors.
        """
        data = self._data  # type: ignore[attr-defined]
        values = dict(data.valid)
        if data.converted:
            values.update(data.converted)
        pk = None
        for name in plan.identity:
            value = values.get(name)
            if value is not None and value != "":
                pk = str(value)
                break
        if pk is None:
            pk = self._new_primary_key()
        if plan.has_pk and values.get("pk") != pk:
            values["pk"] = pk
        context = get_validation_context()
        valid: dict[str, Any] = {}
        primitive: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name, field_type, check, export in plan.fields:
            value = values.get(name, Undefined)
            try:
                if check:
                    field_type.check_required(value, context)
                if value is not None and value is not Undefined:
                    value = field_type.validate(value, context)
            except (FieldError, CompoundError) as error:
                errors[name] = error
                continue
            except ArithmeticError as error:  # e.g. int(inf): schematics lets it through
                errors[name] = ConversionError(_arithmetic_text(value, error))
                continue
            valid[name] = value
            if value is not Undefined:
                primitive[name] = value if value is None or export is None else export(value)
        if errors:
            raise DataError(errors, valid)
        data.valid = valid
        data.converted = {}
        return pk, primitive

    @classmethod
    def _load(cls: type[M], data: Mapping[str, Any], pk: str | None = None) -> M:
        """An object from stored primitives (``pk`` fills a missing pk field)."""
        plan = cls._read_plan()
        if plan is not None:
            # Fast path: each field's own conversion, handed to schematics as trusted data; a value
            # that is already of the native type of a stock str/int/float/bool field is kept as is
            # (what its to_native would return).
            converted = {}
            for name, field_type, native in plan:
                value = data.get(name)
                if value is not None and type(value) is not native:
                    value = field_type.to_native(value)
                converted[name] = value
            if pk is not None and "pk" in converted and converted["pk"] is None:
                converted["pk"] = pk
            return cls(trusted_data=converted, lazy=True)
        obj = cls(data, strict=False)
        if pk is not None and "pk" in cls._schema.fields and obj.get("pk") is None:  # type: ignore[attr-defined]
            obj.pk = pk
        return obj

    @classmethod
    def _decode(cls: type[M], raw: Any, key: Any = None) -> M:
        """An object from its stored string; ``key`` (its key or hash field) supplies a missing pk."""
        return cls._decode_data(cls.__deserializer__(raw), key)

    @classmethod
    def _decode_data(cls: type[M], data: Mapping[str, Any], key: Any = None) -> M:
        """An object from stored primitives; ``key`` (its key or hash field) supplies a missing pk."""
        pk = None
        if key is not None:
            pk = as_text(key)
            prefix = cls._setting("__prefix__")
            if prefix and pk.startswith(f"{prefix}:"):
                pk = pk[len(prefix) + 1 :]
        return cls._load(data, pk)

    # ------------------------------------------------------------------ plans shared by the layers

    @classmethod
    def _filter_plan(cls, conditions: list[Condition]) -> Plan:
        """Scanning filter: load everything, keep what matches."""
        if cls.__strict_performance__:
            raise StrictPerformanceException(
                f"{cls.__name__}.filter() would read every object and __strict_performance__ is set"
            )
        objects = yield from cls._all_plan()
        return [obj for obj in objects if matches(obj, conditions)]

    @classmethod
    def _match_plan(cls, filters: dict[str, Any]) -> Plan:
        conditions = parse_filters(cls, filters)
        pk = cls._pk_from_filters(filters)
        if pk is not None:
            obj = yield from cls._get_plan(pk)
            if obj is None or not matches(obj, conditions):
                raise NotFound(f"no {cls.__name__} matches {filters}")
            return obj
        return (yield from cls._one_plan(conditions, filters))

    @classmethod
    def _one_plan(cls, conditions: list[Condition], filters: dict[str, Any]) -> Plan:
        found = yield from cls._filter_plan(conditions)
        if not found:
            raise NotFound(f"no {cls.__name__} matches {filters}")
        if len(found) > 1:
            raise MultipleFound(f"{len(found)} {cls.__name__} objects match {filters}")
        return found[0]

    @classmethod
    def _pk_from_filters(cls, filters: dict[str, Any]) -> str | None:
        """The primary key that plain ``pk``/``id``/``__unique_together__`` filters pin down, if any."""
        if "pk" in filters and "pk" not in cls._schema.fields and filters["pk"] is not None:
            return str(filters["pk"])
        names = {"pk", "id", *cls._unique_fields()} & set(cls._schema.fields)
        direct = {name: filters[name] for name in names if name in filters}
        if not direct:
            return None
        return cls(direct, strict=False).__primary_key__

    @classmethod
    def _delete_filter_plan(cls, conditions: list[Condition]) -> Plan:
        objects = yield from cls._filter_plan(conditions)
        if not objects:
            return 0
        return (yield from cls._delete_plan([obj.__primary_key__ for obj in objects]))

    # ------------------------------------------------------------------ layer hooks

    @classmethod
    def _get_plan(cls, pk: str) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError(f"{cls.__name__} must implement _get_plan")

    @classmethod
    def _all_plan(cls) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError(f"{cls.__name__} must implement _all_plan")

    def _save_plan(self, pk: str, primitive: dict[str, Any]) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement _save_plan")

    def _queue_save(self, pipeline: Any, pk: str, primitive: dict[str, Any]) -> None:
        """Queue the write of :meth:`_save_plan` on ``pipeline`` (one of this package's, or a bare
        redis-py pipeline, sync or asyncio).

        Layers may override it with the same commands queued directly (no plan machinery), since
        pipelined writes are where the per-object cost shows.
        """
        run_sync(self._save_plan(pk, primitive), None, pipeline)

    @classmethod
    def _delete_plan(cls, pks: list[str]) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError(f"{cls.__name__} must implement _delete_plan")

    @classmethod
    def _delete_all_plan(cls) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError(f"{cls.__name__} must implement _delete_all_plan")

    # ------------------------------------------------------------------ public API (sync)

    @classmethod
    def pipeline(cls, transaction: bool | None = None) -> Pipeline:
        """A pipeline on this model's client: ``with Model.pipeline() as p: obj.set(pipeline=p)``.

        ``transaction`` defaults to MULTI/EXEC on a single server and to a plain pipeline on a
        cluster (where one transaction can only touch one hash slot).
        """
        return Pipeline(cls._client(), transaction)

    def set(self, pipeline: Any = None) -> None:
        """Validate, then store the object (queued on ``pipeline`` when one is given)."""
        pk, primitive = self._prepare_write()
        if pipeline is not None:
            self._queue_save(pipeline, pk, primitive)
        else:
            run_sync(self._save_plan(pk, primitive), self._client())

    def delete(self, pipeline: Any = None) -> None:
        """Remove the object from storage (a missing object is not an error)."""
        pk = self.__primary_key__
        if pk is not None:
            run_sync(type(self)._delete_plan([pk]), self._client(), pipeline)

    def refresh(self) -> None:
        """Reload the object's fields from storage.

        :raises NotFound: the object is no longer stored.
        """
        fresh = run_sync(type(self)._get_plan(self._pk_or_fail()), self._client())
        if fresh is None:
            raise NotFound(f"{type(self).__name__} {self.__primary_key__!r} is not stored")
        self.import_data(fresh.to_native())  # type: ignore[attr-defined]

    def _pk_or_fail(self) -> str:
        pk = self.__primary_key__
        if pk is None:
            raise NotFound(f"this {type(self).__name__} has no primary key, so it was never stored")
        return pk

    @classmethod
    def match_for_pk(cls: type[M], pk: Any) -> M:
        """The stored object whose primary key is ``pk``.

        :raises NotFound: nothing is stored under that key.
        """
        obj = run_sync(cls._get_plan(str(pk)), cls._client())
        if obj is None:
            raise NotFound(f"no {cls.__name__} with pk {pk!r}")
        return obj

    @classmethod
    def match_for_values(cls: type[M], **filters: Any) -> M:
        """The one stored object matching ``filters``.

        :raises NotFound: none matches. :raises MultipleFound: several match.
        :raises InvalidFilter: a filter names an unknown field or lookup.
        """
        conditions = parse_filters(cls, filters)
        return run_sync(cls._one_plan(conditions, filters), cls._client())

    @classmethod
    def match(cls: type[M], **filters: Any) -> M:
        """The one stored object matching ``filters``: read by primary key when the filters
        pin it down (``pk``, ``id`` or every ``__unique_together__`` field), else by values.
        Every filter is checked either way."""
        return run_sync(cls._match_plan(filters), cls._client())

    @classmethod
    def all(cls: type[M]) -> list[M]:
        """Every stored object of this model."""
        return run_sync(cls._all_plan(), cls._client())

    @classmethod
    def filter(cls: type[M], **filters: Any) -> list[M]:
        """Every stored object matching all ``filters`` (``field=v``, ``field__gte=v``, ...)."""
        return run_sync(cls._filter_plan(parse_filters(cls, filters)), cls._client())

    @classmethod
    def delete_all(cls) -> int:
        """Remove every stored object of this model; return how many there were."""
        return run_sync(cls._delete_all_plan(), cls._client())

    @classmethod
    def delete_filter(cls, **filters: Any) -> int:
        """Remove the objects matching ``filters``; return how many were removed."""
        return run_sync(cls._delete_filter_plan(parse_filters(cls, filters)), cls._client())

    # ------------------------------------------------------------------ public API (asyncio)

    @classmethod
    def apipeline(cls, transaction: bool | None = None) -> AsyncPipeline:
        """``async with Model.apipeline() as p: await obj.aset(pipeline=p)``."""
        return AsyncPipeline(cls._async_client(), transaction)

    async def aset(self, pipeline: Any = None) -> None:
        """Async :meth:`set`."""
        pk, primitive = self._prepare_write()
        if pipeline is not None:  # queueing is synchronous on redis.asyncio pipelines too
            self._queue_save(pipeline, pk, primitive)
        else:
            await run_async(self._save_plan(pk, primitive), self._async_client())

    async def adelete(self, pipeline: Any = None) -> None:
        """Async :meth:`delete`."""
        pk = self.__primary_key__
        if pk is not None:
            await run_async(type(self)._delete_plan([pk]), self._async_client(), pipeline)

    async def arefresh(self) -> None:
        """Async :meth:`refresh`."""
        fresh = await run_async(type(self)._get_plan(self._pk_or_fail()), self._async_client())
        if fresh is None:
            raise NotFound(f"{type(self).__name__} {self.__primary_key__!r} is not stored")
        self.import_data(fresh.to_native())  # type: ignore[attr-defined]

    @classmethod
    async def amatch_for_pk(cls: type[M], pk: Any) -> M:
        """Async :meth:`match_for_pk`."""
        obj = await run_async(cls._get_plan(str(pk)), cls._async_client())
        if obj is None:
            raise NotFound(f"no {cls.__name__} with pk {pk!r}")
        return obj

    @classmethod
    async def amatch_for_values(cls: type[M], **filters: Any) -> M:
        """Async :meth:`match_for_values`."""
        conditions = parse_filters(cls, filters)
        return await run_async(cls._one_plan(conditions, filters), cls._async_client())

    @classmethod
    async def amatch(cls: type[M], **filters: Any) -> M:
        """Async :meth:`match`."""
        return await run_async(cls._match_plan(filters), cls._async_client())

    @classmethod
    async def aall(cls: type[M]) -> list[M]:
        """Async :meth:`all`."""
        return await run_async(cls._all_plan(), cls._async_client())

    @classmethod
    async def afilter(cls: type[M], **filters: Any) -> list[M]:
        """Async :meth:`filter`."""
        return await run_async(cls._filter_plan(parse_filters(cls, filters)), cls._async_client())

    @classmethod
    async def adelete_all(cls) -> int:
        """Async :meth:`delete_all`."""
        return await run_async(cls._delete_all_plan(), cls._async_client())

    @classmethod
    async def adelete_filter(cls, **filters: Any) -> int:
        """Async :meth:`delete_filter`."""
        return await run_async(cls._delete_filter_plan(parse_filters(cls, filters)), cls._async_client())
