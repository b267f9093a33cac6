"""Filter lookups: ``field__op=value`` parsing, value conversion and matching in Python."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schematics.exceptions import BaseError

from .exceptions import InvalidFilter

__all__ = ["LOOKUPS", "Condition", "is_nan", "matches", "parse_filters"]


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """Ordering comparison where a missing (None) side never matches instead of raising."""

    def check(stored: Any, wanted: Any) -> bool:
        if stored is None or wanted is None:
            return False
        try:
            return compare(stored, wanted)
        except TypeError:
            return False

    return check


LOOKUPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "not": operator.ne,
    "gt": _ordered(operator.gt),
    "gte": _ordered(operator.ge),
    "lt": _ordered(operator.lt),
    "lte": _ordered(operator.le),
    "in": lambda stored, wanted: stored in wanted,
    "exclude": lambda stored, wanted: stored not in wanted,
}
"""Every supported lookup suffix and how it compares a stored value with the wanted one."""

MULTI_VALUE = frozenset({"in", "exclude"})


@dataclass(frozen=True)
class Condition:
    """One parsed filter: ``field`` compared by ``op`` against the converted ``value``."""

    field: str
    op: str
    value: Any

    def check(self, obj: Any) -> bool:
        """Whether ``obj`` satisfies this condition."""
        stored = (
            obj.__primary_key__
            if self.field == "pk" and "pk" not in obj._schema.fields
            else obj.get(self.field)
        )
        try:
            return LOOKUPS[self.op](stored, self.value)
        except ArithmeticError:  # a stored Decimal NaN compared by order, say: no match
            return False


def _convert(model: Any, field: str, value: Any) -> Any:
    if value is None:
        return None
    field_type = model._schema.fields.get(field)
    if field_type is None:  # the virtual "pk" of a model without a pk field
        return str(value)
    try:
        native = field_type.to_native(value)
    except BaseError as error:
        raise InvalidFilter(
            f"{model.__name__}.{field}: cannot use {value!r} in a filter ({error.to_primitive()})"
        ) from error
    except (ArithmeticError, TypeError, ValueError) as error:  # e.g. int(inf), Decimal("sNaN")
        raise InvalidFilter(
            f"{model.__name__}.{field}: cannot use {value!r} in a filter ({error})"
        ) from error
    if is_nan(native):
        raise InvalidFilter(
            f"{model.__name__}.{field}: cannot use {value!r} in a filter "
            "(NaN equals and orders against nothing)"
        )
    return native


def is_nan(value: Any) -> bool:
    """Whether ``value`` is a float or Decimal NaN (quiet or signaling)."""
    if isinstance(value, float):
        return value != value
    return isinstance(value, Decimal) and value.is_nan()


def parse_filters(model: Any, filters: Mapping[str, Any]) -> list[Condition]:
    """Turn ``{"amount__gte": 3}`` into conditions, converting each value with its field's type.

    :raises InvalidFilter: for a field the model does not declare, an unknown lookup suffix,
        a non-iterable value for ``__in``/``__exclude`` or a value the field cannot convert.
    """
    conditions = []
    for name, value in filters.items():
        field, sep, op = name.rpartition("__")
        if not sep or op not in LOOKUPS:
            field, op = name, "eq"
        if field not in model._schema.fields and field != "pk":
            known = ", ".join(sorted(model._schema.fields))
            hint = f" (lookups: {', '.join(LOOKUPS)})" if "__" in name else ""
            raise InvalidFilter(f"{model.__name__} has no field {field!r}{hint}; fields are: {known}")
        if op in MULTI_VALUE:
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise InvalidFilter(f"{name} needs a list, set or tuple of values, got {value!r}")
            value = [_convert(model, field, item) for item in value]
        else:
            value = _convert(model, field, value)
        conditions.append(Condition(field, op, value))
    return conditions


def matches(obj: Any, conditions: Iterable[Condition]) -> bool:
    """Whether ``obj`` satisfies every condition."""
    return all(condition.check(obj) for condition in conditions)
