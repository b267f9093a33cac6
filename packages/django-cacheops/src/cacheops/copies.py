"""Copies of cached results that callers may change freely: what fast mode keeps in process
memory and what it hands out (:func:`kept_copy`, :func:`fresh_copy`).

A copy of a model instance is made without ``__init__`` or signals: a new instance with a copy of
the field values dict and of its state (related objects cached by ``select_related`` copied too).
Rows of one class whose states hold nothing but plain attributes are kept as their field dicts
and one picture of the state, and copied without looking at each row again.
Values nested inside fields (a JSON dict) are shared.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.base import ModelState

from .django_internals import FIELDS_CACHE, PEERS, PREFETCHED_OBJECTS_CACHE, STATE, state_dict

__all__ = ["fresh_copy", "kept_copy"]


def _copy_instance(obj: Model, _new: Any = object.__new__, _copies: dict[int, Model] | None = None) -> Model:
    """A new instance with copies of the field values dict and of the state (related objects
    cached by ``select_related`` copied too, once each: a reverse one-to-one refers back to the
    row it hangs on); no __init__, no signals."""
    data = obj.__dict__.copy()
    state = _new(ModelState)
    new = _new(obj.__class__)
    state_data = state_dict(obj)
    if state_data:
        state_data = state_data.copy()
        fields_cache = state_data.get(FIELDS_CACHE)
        if fields_cache is not None:  # ModelState.__del__ clears it: never share the dict
            copied: dict[str, Any] = {}
            if fields_cache:
                if _copies is None:
                    _copies = {}
                _copies[id(obj)] = new
                for name, value in fields_cache.items():
                    if isinstance(value, Model):
                        value = _copies.get(id(value)) or _copy_instance(value, _new, _copies)
                    copied[name] = value
            state_data[FIELDS_CACHE] = copied
        if PEERS in state_data:  # Django 6.1 fetch-mode weak references of one result set
            del state_data[PEERS]
        state.__dict__ = state_data
    data[STATE] = state
    if PREFETCHED_OBJECTS_CACHE in data:
        del data[PREFETCHED_OBJECTS_CACHE]
    new.__dict__ = data
    return new


def _copy_item(item: Any) -> Any:
    if isinstance(item, Model):
        return _copy_instance(item)
    if isinstance(item, dict):
        return dict(item)
    return item


class _PlainRows:
    """Rows kept in memory that are all of one class and whose states are alike and hold nothing
    but plain attributes (no related objects cached, no prefetched lists, no peers): copied from
    their field dicts and one picture of the state, without looking at each row again."""

    __slots__ = ("cls", "state", "dicts")

    def __init__(self, cls: type, state: dict[str, Any], dicts: list[dict[str, Any]]) -> None:
        self.cls = cls
        self.state = state  # the state's attributes, less fields_cache
        self.dicts = dicts  # each row's __dict__ (its "_state" is replaced in every copy)


def _copy_plain(rows: _PlainRows, _new: Any = object.__new__, _state_class: type = ModelState) -> list[Model]:
    cls = rows.cls
    state_data = rows.state
    copies: list[Model] = []
    append = copies.append
    for kept in rows.dicts:
        state = _new(_state_class)
        state.__dict__ = attrs = state_data.copy()
        attrs[FIELDS_CACHE] = {}  # ModelState.__del__ clears it: never share the dict
        new = _new(cls)
        new.__dict__ = data = kept.copy()
        data[STATE] = state
        append(new)
    return copies


def _plain_state(obj: Model) -> dict[str, Any] | None:
    """The attributes of ``obj``'s state less an empty fields_cache; None when the state holds
    related objects or peers."""
    state = state_dict(obj).copy()
    if state.pop(FIELDS_CACHE, None) or PEERS in state:
        return None
    return state


def _plain_rows(rows: list[Model]) -> _PlainRows | None:
    """``rows`` as :class:`_PlainRows` when they qualify, else None."""
    cls = rows[0].__class__
    state = _plain_state(rows[0])
    if state is None:
        return None
    for obj in rows:
        if obj.__class__ is not cls or PREFETCHED_OBJECTS_CACHE in obj.__dict__:
            return None
        if _plain_state(obj) != state:
            return None
    return _PlainRows(cls, state, [obj.__dict__ for obj in rows])


def kept_copy(value: Any) -> Any:
    """The copy of a result that memory keeps (never handed out: callers get :func:`fresh_copy`)."""
    value = fresh_copy(value)
    if type(value) is list and value and isinstance(value[0], Model):
        return _plain_rows(value) or value
    return value


def fresh_copy(value: Any) -> Any:
    """A copy of a cached result a caller may change freely (rows copied one level deep)."""
    if type(value) is _PlainRows:
        return _copy_plain(value)
    if isinstance(value, list):
        if value and isinstance(value[0], Model):
            return [_copy_instance(item) for item in value]
        return [_copy_item(item) for item in value]
    if isinstance(value, dict):
        return dict(value)
    return value
