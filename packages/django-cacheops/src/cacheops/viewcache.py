"""The machinery under cached views (``cacheops.views``): ``cache_view`` wraps a view around a
function-cache decorator, keyed by the request's absolute URI.

It imports no other cacheops module, so the function cache (``cacheops.simple``) can offer
``cache.cached_view`` with it while ``cacheops.views`` builds on ``cacheops.simple``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase

__all__ = ["CachedView", "ViewDecorator", "cache_view", "view_extra"]

_P = ParamSpec("_P")
_Req = TypeVar("_Req", bound=HttpRequest)
_Req_contra = TypeVar("_Req_contra", bound=HttpRequest, contravariant=True)
_Resp = TypeVar("_Resp", bound=HttpResponseBase)
_Resp_co = TypeVar("_Resp_co", bound=HttpResponseBase, covariant=True)


class CachedView(Protocol[_Req_contra, _P, _Resp_co]):
    """A view decorated by ``@cached_view_as`` or ``@cached_view``: called as before, plus
    ``invalidate()`` and ``key()`` taking a request (or an absolute URI) and the view's other
    arguments."""

    def __call__(self, request: _Req_contra, /, *args: _P.args, **kwargs: _P.kwargs) -> _Resp_co: ...

    def invalidate(self, request_or_uri: HttpRequest | str, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Drop the cached response for this request (or absolute URI) and view arguments."""
        ...

    def key(self, request_or_uri: HttpRequest | str, /, *args: _P.args, **kwargs: _P.kwargs) -> str:
        """The cache key of the response for this request (or absolute URI) and view arguments."""
        ...


class ViewDecorator(Protocol):
    """What ``cached_view_as(*samples)`` and ``cached_view(timeout=...)`` return."""

    def __call__(self, view: Callable[Concatenate[_Req, _P], _Resp], /) -> CachedView[_Req, _P, _Resp]: ...


CACHEABLE_METHODS = frozenset({"GET", "HEAD"})

# The request being answered (or what invalidate()/key() were given: a request or an absolute URI):
# the cached function is keyed by the URI and reaches the request, and a callable extra, here.
_current_request: ContextVar[Any] = ContextVar("cacheops_view_request")


class _Uncacheable(Exception):
    """Carries a response that must not be stored out of the cache machinery."""

    def __init__(self, response: HttpResponseBase) -> None:
        super().__init__("response not cacheable")
        self.response = response


def _uri(request_or_uri: HttpRequest | str) -> str:
    if isinstance(request_or_uri, HttpRequest):
        return request_or_uri.build_absolute_uri()
    if isinstance(request_or_uri, str):
        return request_or_uri
    raise TypeError(f"expected a request or an absolute URI, not {type(request_or_uri).__name__}")


def view_extra(extra: Any) -> Any:
    """``extra`` of a cached view for the function cache underneath: a callable one is called with
    the request (or what ``invalidate()``/``key()`` were given) and the view's arguments, as in 7.2,
    not with the URI the responses are keyed by."""
    if not callable(extra):
        return extra

    def call(uri: str, *args: Any, **kwargs: Any) -> Any:
        return extra(_current_request.get(), *args, **kwargs)

    return call


def cache_view(
    view: Callable[Concatenate[_Req, _P], _Resp], decorator: Callable[[Any], Any]
) -> CachedView[_Req, _P, _Resp]:
    """Wrap ``view`` so that its GET/HEAD responses are cached by ``decorator`` (a function-cache
    decorator such as ``cached_as(...)`` or ``cached(...)``), keyed by the absolute URI.

    The wrapper gets ``.invalidate(request_or_uri, *args, **kwargs)`` and ``.key(...)``; ``args``
    and ``kwargs`` are the view's own arguments after the request (e.g. URL parameters).
    """
    if iscoroutinefunction(view):
        raise TypeError(
            f"{view.__qualname__} is an async view: cached views must be synchronous for now "
            "(cache the querysets it reads instead)"
        )

    @wraps(view)
    def respond(uri: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(_current_request.get(), *args, **kwargs)
        render = getattr(response, "render", None)
        if callable(render):
            response = render()
        if getattr(response, "streaming", False):
            raise _Uncacheable(response)
        return response

    cached_respond: Any = decorator(respond)

    @wraps(view)
    def wrapper(request: _Req, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not isinstance(request, HttpRequest):
            raise TypeError(
                f"{view.__qualname__} was called with {type(request).__name__} as its first argument, "
                "not a request; decorate methods with django.utils.decorators.method_decorator"
            )
        if request.method not in CACHEABLE_METHODS:
            return view(request, *args, **kwargs)
        token = _current_request.set(request)
        try:
            return cached_respond(request.build_absolute_uri(), *args, **kwargs)
        except _Uncacheable as e:
            return e.response
        finally:
            _current_request.reset(token)

    def invalidate(request_or_uri: HttpRequest | str, *args: Any, **kwargs: Any) -> None:
        """Drop the cached response for this request (or absolute URI) and view arguments."""
        token = _current_request.set(request_or_uri)
        try:
            cached_respond.invalidate(_uri(request_or_uri), *args, **kwargs)
        finally:
            _current_request.reset(token)

    def key(request_or_uri: HttpRequest | str, *args: Any, **kwargs: Any) -> str:
        """The cache key of the response for this request (or absolute URI) and view arguments."""
        token = _current_request.set(request_or_uri)
        try:
            return cached_respond.key(_uri(request_or_uri), *args, **kwargs)
        finally:
            _current_request.reset(token)

    wrapper.invalidate = invalidate  # type: ignore[attr-defined]
    wrapper.key = key  # type: ignore[attr-defined]
    return cast("CachedView[_Req, _P, _Resp]", wrapper)
