"""Filter helpers of redis-schematics 0.3.1, kept for code that imports them (deprecated).

The models filter with :mod:`redis_schematics.lookups` (``parse_filters`` and ``matches``), which
also converts each value by its field's type and rejects unknown fields.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from .lookups import LOOKUPS

__all__ = ["FILTER_OPS", "group_filters_by_suffix", "match_filters"]

#: Lookup suffix (with its leading ``__``) -> comparison of a stored value with the wanted one.
FILTER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    f"__{name}": compare for name, compare in LOOKUPS.items()
}


def _deprecated(name: str) -> None:
    warnings.warn(
        f"redis_schematics.utils.{name}() is deprecated: models filter with Model.filter(), "
        "and redis_schematics.lookups holds parse_filters() and matches()",
        DeprecationWarning,
        stacklevel=3,
    )


def group_filters_by_suffix(filters: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"a__gte": 1, "b": 2}`` -> ``{"__gte": {"a": 1}, "__eq": {"b": 2}, ...}`` (every suffix
    present; a name without a known suffix counts as ``__eq``). Deprecated."""
    _deprecated("group_filters_by_suffix")
    groups: dict[str, dict[str, Any]] = {suffix: {} for suffix in FILTER_OPS}
    for name, value in filters.items():
        field, sep, op = name.rpartition("__")
        suffix = f"__{op}"
        if sep and field and suffix in FILTER_OPS:
            groups[suffix][field] = value
        else:
            groups["__eq"][name] = value
    return groups


def match_filters(obj: Any, filter_group: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether ``obj`` passes every grouped filter (an attribute it lacks counts as ``None``).
    Deprecated."""
    _deprecated("match_filters")
    for suffix, wanted in filter_group.items():
        compare = FILTER_OPS[suffix]
        for field, value in wanted.items():
            if not compare(getattr(obj, field, None), value):
                return False
    return True
