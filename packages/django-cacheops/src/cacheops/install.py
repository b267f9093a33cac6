"""``install_cacheops()``: plug cacheops into Django, run from ``AppConfig.ready()``.

It is the one place that knows every part that patches Django: the QuerySet and manager methods
(:mod:`cacheops.query`), the admin, the invalidation signals (:mod:`cacheops.events`), the native
async reads (:mod:`cacheops.aio`), fast mode (:mod:`cacheops.memory`), bulk writes
(:mod:`cacheops.bulk`) and prefetching (:mod:`cacheops.prefetch`).  None of them imports another to
install it, so the async reads and the synchronous ones stay independent of each other.
"""

from __future__ import annotations

from typing import Any

from .aio import install_async
from .bulk import install_bulk
from .events import install_events
from .memory import install_fast
from .prefetch import install_prefetch
from .query import install_queryset

__all__ = ["install_cacheops"]

_installed = False


def install_cacheops() -> None:
    """Patch QuerySet, the admin and connect invalidation signals (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    install_queryset()
    _install_admin()
    install_events()
    install_async()
    install_fast()
    install_bulk()
    install_prefetch()


def _install_admin() -> None:
    try:
        from django.contrib.admin.options import BaseModelAdmin
    except ImportError:  # pragma: no cover - admin not installed
        return
    original = BaseModelAdmin.get_queryset

    def get_queryset(self: Any, request: Any) -> Any:
        return original(self, request).nocache()  # type: ignore[attr-defined]

    BaseModelAdmin.get_queryset = get_queryset  # type: ignore[method-assign]
