"""Errors raised by django-cereal; all derive from :class:`CerealError`.

Errors raised while *sending* (``.delay()``, ``apply_async()``, ``kombu.serialization.dumps``)
are also kombu's :class:`~kombu.exceptions.EncodeError`, and reach the caller as they are: kombu
wraps every other encoder error in a plain ``EncodeError``, but lets subclasses of its
``SerializerNotInstalled`` through unchanged (as it does for its own ``ContentDisallowed``), so
these errors derive from it as well. ``except ModelNotAllowed`` and ``except EncodeError`` both
catch a refused ``.delay()``.
"""

from __future__ import annotations

import pickle

from kombu.exceptions import EncodeError, SerializerNotInstalled


class CerealError(Exception):
    """Base class of every django-cereal error."""


class SendRefused(CerealError, EncodeError, SerializerNotInstalled):
    """Base class of the errors raised while encoding; kombu re-raises them as they are."""


class UnsavedInstanceError(SendRefused, ValueError):
    """A model instance without a primary key was passed to a task (raised when sending)."""


class ModelNotAllowed(CerealError):
    """A model outside ``DJANGO_CEREAL_ALLOWED_MODELS`` was sent or received."""


class ModelNotAllowedToSend(ModelNotAllowed, SendRefused):
    """Raised when sending a model outside ``DJANGO_CEREAL_ALLOWED_MODELS``.

    It is both a :class:`ModelNotAllowed` and kombu's ``EncodeError``.
    """


class UnknownModelError(CerealError):
    """A reference names a model that is not installed in the receiving process."""


class InvalidReference(CerealError, ValueError):
    """A received message holds a malformed marker or reference.

    Examples: ``{"__cereal__": 5}``, an unhashable or wrongly typed primary key, a database
    alias that is not a string or not configured, a primary key the model's field rejects.
    """


class PickleRefused(CerealError, pickle.UnpicklingError):
    """``django-cereal-pickle`` was asked to rebuild a global that is not on its allow-list."""
