"""Modules that import Django, loaded on first use so the serializers register without it."""

from __future__ import annotations

from types import ModuleType


def references() -> ModuleType:
    """``django_cereal.references`` (model <-> reference, batched loading)."""
    from . import references as module

    return module


def arguments() -> ModuleType:
    """``django_cereal.arguments`` (task arguments resolved when the task is called)."""
    from . import arguments as module

    return module
