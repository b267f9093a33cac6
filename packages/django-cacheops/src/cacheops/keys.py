"""Stable cache keys: the same query or call gives the same key in every process."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .conf import settings
from .redis import CLUSTER_TAG, is_cluster


@dataclass
class PrefixQuery:
    """What a CACHEOPS_PREFIX callable receives: the databases and tables an operation touches."""

    dbs: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    @property
    def db(self) -> str:
        dbs = set(self.dbs)
        if len(dbs) != 1:
            raise ValueError(f"this operation touches several databases: {sorted(dbs)}")
        return self.dbs[0]

    @property
    def table(self) -> str:
        tables = set(self.tables)
        if len(tables) != 1:
            raise ValueError(f"this operation touches several tables: {sorted(tables)}")
        return self.tables[0]


def reset_prefix() -> None:
    """Called when CACHEOPS_PREFIX changes (nothing is cached beyond the settings object)."""


def get_prefix(dbs: Iterable[str] = (), tables: Iterable[str] = ()) -> str:
    """The key prefix for an operation on ``dbs``/``tables`` ('' without CACHEOPS_PREFIX).

    On a Redis Cluster it starts with the cacheops hash tag, so all keys share one slot."""
    func = settings.CACHEOPS_PREFIX
    tag = CLUSTER_TAG if is_cluster() else ""
    if func is None:
        return tag
    return tag + func(PrefixQuery(dbs=list(dbs), tables=list(tables)))


def _param(value: Any) -> str:
    # psycopg wraps JSON values in adapter objects whose repr may carry an id()
    for attr in ("adapted", "obj"):
        inner = getattr(value, attr, None)
        if inner is not None and type(value).__module__.startswith("psycopg"):
            return repr(inner)
    return repr(value)


def digest(*parts: Any) -> str:
    """An md5 hex digest of the parts' text."""
    md5 = hashlib.md5(usedforsecurity=False)
    for part in parts:
        md5.update(part.encode() if isinstance(part, str) else repr(part).encode())
        md5.update(b"\x00")
    return md5.hexdigest()


_model_stamps: dict[type, str] = {}


def model_stamp(model: Any) -> str:
    """A short text that changes when the model's fields change, so old entries aren't read."""
    stamp = _model_stamps.get(model)
    if stamp is None:
        fields = ",".join(f"{f.column}:{f.get_internal_type()}" for f in model._meta.concrete_fields)
        stamp = f"{model._meta.label_lower}|{fields}"
        _model_stamps[model] = stamp
    return stamp


def query_key(qs: Any, op: str, extra: Any = "", db_agnostic: bool = True) -> str:
    """The cache key of a queryset operation: its SQL and params, model, op and maybe its db."""
    sql, params = qs.query.get_compiler(qs.db).as_sql()
    parts = [
        model_stamp(qs.model),
        qs._iterable_class.__qualname__,
        op,
        sql,
        *map(_param, params),
        extra,
    ]
    fields = getattr(qs, "_fields", None)
    if fields:
        parts.append(repr(fields))
    if not db_agnostic:
        parts.append(qs.db)
    return "q:" + digest(*parts)


def func_key(func: Any, args: tuple, kwargs: dict, extra: Any = None) -> str:
    """The cache key of a call: the function's full name, the arguments and ``extra``."""
    name = f"{func.__module__}.{func.__qualname__}"
    return "c:" + digest(name, repr(args), repr(sorted(kwargs.items())), repr(extra))
