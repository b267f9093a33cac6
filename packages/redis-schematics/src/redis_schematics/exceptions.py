"""Errors raised by redis_schematics."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidFilter",
    "MultipleFound",
    "NotFound",
    "StrictPerformanceException",
]


class NotFound(KeyError):
    """No stored object matches the lookup (a ``KeyError``, so ``except KeyError`` keeps working)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "object not found"


class MultipleFound(LookupError):
    """A lookup that must return one object matched several."""


class StrictPerformanceException(Exception):
    """A scanning operation was asked for on a model with ``__strict_performance__ = True``."""


class InvalidFilter(ValueError):
    """A filter names an unknown field or lookup, or a value the field cannot convert."""


class ConfigurationError(RuntimeError):
    """A model is missing something it needs to reach Redis (client, pk field, ...)."""
