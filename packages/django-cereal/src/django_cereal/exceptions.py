"""Errors raised by django-cereal; all derive from :class:`CerealError`."""

from __future__ import annotations


class CerealError(Exception):
    """Base class of every django-cereal error."""


class UnsavedInstanceError(CerealError, ValueError):
    """A model instance without a primary key was passed to a task (raised when sending)."""


class ModelNotAllowed(CerealError):
    """A model outside ``DJANGO_CEREAL_ALLOWED_MODELS`` was sent or received."""


class UnknownModelError(CerealError):
    """A reference names a model that is not installed in the receiving process."""
