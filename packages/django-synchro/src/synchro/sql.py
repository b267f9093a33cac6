"""Plain SQL where the ORM's per-value work would dominate: long IN lists and many-row INSERTs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connections, models
from django.db.models.expressions import RawSQL

# Values per IN list / rows per statement; keeps every statement well under the backends' limits.
CHUNK = 500


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def column_name(field: models.Field) -> str:
    if field.column is None:  # only non-concrete fields have none
        raise ValueError(f"{field} has no column")
    return field.column


def column_in(model: type[models.Model], field: models.Field, values: Sequence[Any], alias: str) -> RawSQL:
    """A ``filter()`` condition ``<model's table>.<field's column> IN (values)``.

    Each value is converted for the database once, which costs a fraction of what an
    ``__in`` lookup spends on every value. ``values`` must not be empty.
    """
    connection = connections[alias]
    qn = connection.ops.quote_name
    params = [field.get_db_prep_value(value, connection, prepared=False) for value in values]
    marks = ", ".join(["%s"] * len(params))
    return RawSQL(
        f"{qn(model._meta.db_table)}.{qn(column_name(field))} IN ({marks})",
        params,
        output_field=models.BooleanField(),
    )


def select_rows(alias: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def insert_rows(alias: str, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One prepared INSERT run for many rows (values must be ready for the database)."""
    if not rows:
        return
    connection = connections[alias]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_objects(
    alias: str, model: type[models.Model], fields: Sequence[models.Field], objs: Sequence[Any]
) -> list[Any]:
    """INSERT the objects' ``fields``, many rows per statement; returns the new pks when the
    pk is not among ``fields`` (the database must support RETURNING on bulk inserts).

    Values go through each field's ``pre_save()`` and ``get_db_prep_save()``, as in
    ``Model.save()``; the per-object bookkeeping of ``bulk_create()`` is left out.
    """
    connection = connections[alias]
    qn = connection.ops.quote_name
    pk = model._meta.pk
    returning = f" RETURNING {qn(column_name(pk))}" if pk not in fields else ""
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(column_name(f)) for f in fields)}) VALUES "
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(list(fields), objs))
    # pre_save() only where a field has its own (auto_now dates, files): the rest read the value.
    values = [(f, f.attname, type(f).pre_save is not models.Field.pre_save) for f in fields]
    new_pks: list[Any] = []
    with connection.cursor() as cursor:
        for chunk in chunks(objs, size):
            params = [
                f.get_db_prep_save(f.pre_save(obj, True) if own else obj.__dict__[attname], connection)
                for obj in chunk
                for f, attname, own in values
            ]
            cursor.execute(head + ", ".join([row] * len(chunk)) + returning, params)
            if returning:
                new_pks.extend(r[0] for r in cursor.fetchall())
    return new_pks
