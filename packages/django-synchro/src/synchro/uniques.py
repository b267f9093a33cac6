# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Unique values on the target: who holds a value a batch writes, and temporary values.

A replayed object may take a unique value (a unique field, ``unique_together``, a
``UniqueConstraint``, a natural key backed by one) that another row of the target still
holds; :mod:`synchro.replay` orders the writes so that the holder gives it up first, and
where two objects exchange values it parks one of them on a temporary value, as LOCAL
did. Values are compared as tuples of what the target stores (foreign keys as the
target's pks); on MySQL/MariaDB text is compared the way its default collations do
(case and trailing spaces ignored).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connections, models
from django.db.models.expressions import RawSQL

from .sql import chunks, column_in, column_name

UniqueValue = tuple[Any, ...]


def normalizer(alias: str) -> Callable[[UniqueValue], UniqueValue]:
    """How the target's unique indexes compare values (text is case-insensitive on MySQL)."""
    if connections[alias].vendor != "mysql":
        return lambda value: value
    return lambda value: tuple(v.casefold().rstrip(" ") if isinstance(v, str) else v for v in value)


def holders(
    alias: str, model: type[models.Model], fields: Sequence[models.Field], values: Iterable[UniqueValue]
) -> list[tuple[Any, UniqueValue]]:
    """``(pk, value)`` of the rows of ``model`` on ``alias`` that hold one of ``values``."""
    values = list(values)
    if not values:
        return []
    manager = model._base_manager.using(alias)
    names = ["pk", *(f.attname for f in fields)]
    found: list[tuple[Any, UniqueValue]] = []
    if len(fields) == 1:
        for chunk in chunks(v[0] for v in values):
            rows = manager.filter(column_in(model, fields[0], chunk, alias)).values_list(*names)
            found.extend((pk, tuple(rest)) for pk, *rest in rows)
        return found
    connection = connections[alias]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = ", ".join(f"{table}.{qn(column_name(f))}" for f in fields)
    limit = connection.features.max_query_params or 999
    size = max(1, min(500, limit // len(fields)))
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for chunk in chunks(values, size):
        params = [
            f.get_db_prep_value(v, connection, prepared=False)
            for value in chunk
            for f, v in zip(fields, value)
        ]
        condition = RawSQL(
            f"({columns}) IN ({', '.join([row] * len(chunk))})", params, output_field=models.BooleanField()
        )
        found.extend((pk, tuple(rest)) for pk, *rest in manager.filter(condition).values_list(*names))
    return found


def parking_field(fields: Sequence[models.Field], alias: str) -> models.Field | None:
    """The field of a unique set that can take a temporary value (or NULL), if any."""
    for f in fields:
        if not f.is_relation and temporary_value(f, alias) is not None:
            return f
    for f in fields:
        if f.null:
            return f
    return None


def temporary_value(field: models.Field, alias: str) -> Any:
    """A value of ``field`` that no row holds (random, marked with ``~`` for text), or None
    when the field's type has none (then the field is set to NULL if it can be)."""
    if field.is_relation:
        return None
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.CharField | models.TextField):
        length = min(field.max_length or 33, 33)
        if length < 6:
            return None
        return "~" + secrets.token_hex(16)[: length - 1]
    if isinstance(field, models.IntegerField):
        low, high = connections[alias].ops.integer_field_range(field.get_internal_type())
        if low is not None and low < 0:
            return -secrets.randbelow(-low - 1) - 1  # negative: real values are rarely negative
        if high is not None:
            return high // 2 + secrets.randbelow(high // 2)
    return None
