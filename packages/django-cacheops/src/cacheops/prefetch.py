"""prefetch_related under a manually cached queryset.

Prefetch queries are ordinary querysets of the related model: with an automatic profile they are
cached (and invalidated) like any other read of that model. This module adds the manual case:
while ``qs.cache(ops, timeout, lock)`` (or ``qs.nocache()``) runs its prefetching, the prefetch
querysets take the same ``ops``/``timeout``/``lock`` unless they set their own, so
``Category.objects.cache().prefetch_related("posts")`` caches the posts query as well when the
post model has a profile (even one with empty ``ops``), and ``nocache()`` keeps prefetching out of
the cache too.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db.models import QuerySet

from .django_internals import PREFETCH_RELATED_OBJECTS

__all__ = ["install_prefetch"]

_inherited: ContextVar[tuple[Any, Any, Any] | None] = ContextVar("cacheops_prefetch", default=None)
_original: dict[str, Any] = {}
_NAMES = ("_cacheops_ops", "_cacheops_timeout", "_cacheops_lock")


class _Inherited:
    """Class-level default of a cacheops queryset option: the option of the queryset whose
    prefetching runs now, else None. Values set on a queryset itself take precedence."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        inherited = _inherited.get()
        if obj is None or inherited is None:
            return None
        return inherited[self.index]


def _prefetch_related_objects(self: Any) -> None:
    own = self.__dict__
    if "_cacheops_ops" not in own:
        return _original[PREFETCH_RELATED_OBJECTS](self)
    token = _inherited.set(tuple(own.get(name) for name in _NAMES))
    try:
        return _original[PREFETCH_RELATED_OBJECTS](self)
    finally:
        _inherited.reset(token)


_installed = False


def install_prefetch() -> None:
    """Let prefetch querysets inherit the cache options of the queryset they prefetch for
    (idempotent; run by ``install_cacheops()`` after the options got their class defaults)."""
    global _installed
    if _installed:
        return
    _installed = True
    _original[PREFETCH_RELATED_OBJECTS] = getattr(QuerySet, PREFETCH_RELATED_OBJECTS)
    setattr(QuerySet, PREFETCH_RELATED_OBJECTS, _prefetch_related_objects)
    for index, name in enumerate(_NAMES):
        setattr(QuerySet, name, _Inherited(index))
