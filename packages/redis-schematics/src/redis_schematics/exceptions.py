"""Errors and warnings raised by redis_schematics.

Every error derives from :class:`RedisMixinException`, the base class of redis-schematics 0.3.1,
so ``except RedisMixinException`` keeps catching what it caught there (and the errors added since).
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidFilter",
    "KeyPrefixWarning",
    "MultipleFound",
    "NotFound",
    "RedisMixinException",
    "StrictPerformanceException",
]


class RedisMixinException(Exception):
    """Base class of every error this package raises."""


class _KeyErrorText(KeyError):
    """A ``KeyError`` whose text is its message as given (``KeyError`` shows the repr)."""

    default_text = ""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.default_text


class NotFound(_KeyErrorText, RedisMixinException):
    """No stored object matches the lookup (a ``KeyError``, so ``except KeyError`` keeps working)."""

    default_text = "object not found"


class MultipleFound(_KeyErrorText, RedisMixinException):
    """A lookup that must return one object matched several (a ``KeyError``, as in 0.3.1)."""

    default_text = "several objects found"


class StrictPerformanceException(RedisMixinException):
    """A scanning operation was asked for on a model with ``__strict_performance__ = True``."""


class InvalidFilter(RedisMixinException, ValueError):
    """A filter names an unknown field or lookup, or a value the field cannot convert or compare."""


class ConfigurationError(RedisMixinException, RuntimeError):
    """A model's options are missing or wrong (client, pk field, ``__expire__``, ...)."""


class KeyPrefixWarning(UserWarning):
    """A model's keys nest inside the key space of another model's prefix (see the README)."""
