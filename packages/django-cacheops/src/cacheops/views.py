"""View caching: ``@cached_view_as(*samples)`` (dropped with the samples' rows, like ``@cached_as``)
and ``@cached_view(timeout=...)`` (time based, like ``@cached``).

Only GET and HEAD requests are answered from the cache; any other method calls the view.
Responses are keyed by the request's absolute URI (scheme, host, path and query string) together
with the view's own name and arguments, so two hosts or two query strings never share an entry.
Template responses are rendered before they are stored, and streaming responses are passed
through uncached (they cannot be stored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast, overload

from django.http import HttpRequest, HttpResponseBase

from .viewcache import CachedView, ViewDecorator, cache_view, view_extra

if TYPE_CHECKING:
    from .simple import Sample

__all__ = ["CachedView", "ViewDecorator", "cache_view", "cached_view", "cached_view_as", "view_extra"]

_P = ParamSpec("_P")
_Req = TypeVar("_Req", bound=HttpRequest)
_Resp = TypeVar("_Resp", bound=HttpResponseBase)


def cached_view_as(
    *samples: Sample,
    timeout: int | None = None,
    extra: Any = None,
    lock: bool | None = None,
    keep_fresh: bool = False,
) -> ViewDecorator:
    """Cache a view's GET/HEAD responses until a row that could change any of ``samples``
    (querysets, models or instances) is saved or deleted; arguments as for ``@cached_as``."""
    from .simple import cached_as

    decorator = cached_as(
        *samples, timeout=timeout, extra=view_extra(extra), lock=lock, keep_fresh=keep_fresh
    )
    return cast(ViewDecorator, lambda view: cache_view(view, decorator))


@overload
def cached_view(timeout: Callable[Concatenate[_Req, _P], _Resp], /) -> CachedView[_Req, _P, _Resp]: ...


@overload
def cached_view(timeout: int | None = None, extra: Any = None) -> ViewDecorator: ...


def cached_view(timeout: Any = None, extra: Any = None) -> Any:
    """Cache a view's GET/HEAD responses for ``timeout`` seconds (``@cached_view`` bare too)."""
    from .simple import cached

    if callable(timeout):  # used bare
        return cache_view(timeout, cached())
    decorator = cached(timeout=timeout, extra=view_extra(extra))
    return lambda view: cache_view(view, decorator)
