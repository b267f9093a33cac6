"""A compact form for cached lists of model instances.

Pickling a list of instances stores, for every row, the class, the Django version, a copy of its
``ModelState`` and a dict of its fields, and unpickling runs ``Model.__setstate__`` per row.
Rows of one queryset are alike, so :func:`pack` stores the class, the attribute names and the
state once and each row as a tuple of values; :func:`unpack` builds the instances back without
calling ``__init__`` (as unpickling does) and without per-row version checks.  Anything else
(mixed classes, rows carrying related objects from ``select_related`` or prefetched lists, values
the serializer can't take) is stored as it is.

The names are left out (None) when they are the model's concrete fields in order, as for every
row a plain queryset fetches, and the state is only the database alias when it is what Django
gives a fetched row (:func:`cacheops.django_internals.fetched_state`): a cached ``get(pk)`` then
takes about a hundred bytes in Redis, not two hundred and fifty.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.base import ModelState

from .django_internals import (
    FIELDS_CACHE,
    PREFETCHED_OBJECTS_CACHE,
    STATE,
    STATE_UNPICKLED,
    fetched_state,
    state_dict,
)

MARK = "cacheops:rows:1"
_new = object.__new__
_FETCHED = fetched_state()  # with db None
_names: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The attribute names of a row with every concrete field loaded, in the order Django sets them."""
    names = _names.get(cls)
    if names is None:
        names = _names[cls] = tuple(f.attname for f in cls._meta.concrete_fields)  # type: ignore[attr-defined]
    return names


def _state_of(state: dict[str, Any] | str) -> dict[str, Any]:
    """The state dict back from what :func:`pack` kept of it."""
    if isinstance(state, str):
        return {k: state if k == "db" else v for k, v in _FETCHED.items()}
    return state


def _packed(cls: type, names: tuple[str, ...], at: int, state: dict[str, Any], rows: list[Any]) -> tuple:
    """:func:`pack`'s form: the names left out when they are the model's concrete fields in
    order, the state only the database alias when it is what Django gives a fetched row."""
    kept: Any = names[:at] + names[at + 1 :]
    if kept == _field_names(cls):
        kept = None
    db = state.get("db")
    stored: Any = state
    if type(db) is str and state == _state_of(db):
        stored = db
    return (MARK, cls, kept, stored, rows)


def pack(value: Any) -> Any:
    """The compact form of a list of alike model instances, else ``value`` itself."""
    if type(value) is not list or not value:
        return value
    first = value[0]
    cls = type(first)
    if not isinstance(first, Model):
        return value
    names = tuple(first.__dict__)
    state = state_dict(first)
    if state.get(FIELDS_CACHE) or PREFETCHED_OBJECTS_CACHE in names or STATE not in names:
        return value
    state = {k: v for k, v in state.items() if k not in STATE_UNPICKLED}
    at = names.index(STATE)
    rows = []
    for obj in value:
        data = obj.__dict__
        if type(obj) is not cls or tuple(data) != names or state_dict(obj).get(FIELDS_CACHE):
            return value
        values = tuple(data.values())
        rows.append(values[:at] + values[at + 1 :])
    return _packed(cls, names, at, state, rows)


def unpack(value: Any) -> Any:
    """Instances back from :func:`pack`'s form; any other value as it is."""
    if type(value) is not tuple or len(value) != 5 or value[0] != MARK:
        return value
    _, cls, names, state, rows = value
    if names is None:
        names = _field_names(cls)
    state = _state_of(state)
    result: list[Any] = []
    append = result.append
    for row in rows:
        obj = _new(cls)
        data = dict(zip(names, row))
        st = _new(ModelState)
        st.__dict__.update(state)
        data[STATE] = st
        obj.__dict__ = data
        append(obj)
    return result
