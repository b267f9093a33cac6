"""Function caching: ``@cached_as`` (invalidated like querysets) and ``@cached`` (time based),
plus the plain ``cache.get/set/delete`` API raising :class:`CacheMiss`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from .conf import settings
from .keys import func_key, get_prefix
from .redis import get_client, handle_connection_failure, placed
from .samples import Samples
from .signals import cache_read
from .store import MISSING, dumps, get_or_compute, loads

__all__ = [
    "BoundCachedAsFunction",
    "BoundCachedFunction",
    "CacheDecorator",
    "CacheKey",
    "CacheMiss",
    "CachedAsDecorator",
    "CachedAsFunction",
    "CachedFunction",
    "RedisCache",
    "cache",
    "cached",
    "cached_as",
]

_P = ParamSpec("_P")
_P_bound = ParamSpec("_P_bound")
_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)
_V = TypeVar("_V")

if TYPE_CHECKING:
    from typing import TypeAlias

    import redis
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest, HttpResponseBase
    from typing_extensions import Self

    from .viewcache import CachedView, ViewDecorator

    _F = TypeVar("_F", bound=Callable[..., Any])
    _S = TypeVar("_S")
    _P2 = ParamSpec("_P2")
    _R2 = TypeVar("_R2")
    _Req = TypeVar("_Req", bound=HttpRequest)
    _Resp = TypeVar("_Resp", bound=HttpResponseBase)
    # What ``@cached_as`` takes: querysets, model classes or instances (a list: see cached_as()).
    Sample: TypeAlias = "QuerySet[Any, Any] | Model | type[Model]"


class CacheMiss(Exception):
    """Raised by ``cache.get()`` when the key holds nothing."""


class BoundCachedFunction(Protocol[_P_bound, _P, _R]):
    """A method decorated by ``@cached``, read from an instance: calls bind the instance, while
    ``invalidate()`` and ``key()`` are the function's and take it first (``obj.m.key(obj, 1)``)."""

    def __call__(self, *args: _P_bound.args, **kwargs: _P_bound.kwargs) -> _R: ...
    def invalidate(self, *args: _P.args, **kwargs: _P.kwargs) -> None: ...
    def key(self, *args: _P.args, **kwargs: _P.kwargs) -> CacheKey[_R]: ...


class CachedFunction(Protocol[_P, _R]):
    """A function decorated by ``@cached`` (or ``cache.cached``, ``file_cache.cached``): called
    as before, plus ``invalidate()`` and ``key()`` taking the same arguments."""

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R: ...

    def invalidate(self, *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Drop the cached result of these arguments."""

    def key(self, *args: _P.args, **kwargs: _P.kwargs) -> CacheKey[_R]:
        """The entry of these arguments: a str with ``get()``, ``set(value)`` and ``delete()``."""
        raise NotImplementedError

    # the wrapper is a plain function, so a decorated method binds like any other
    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None, /) -> Self: ...
    @overload
    def __get__(
        self: CachedFunction[Concatenate[_S, _P2], _R2], instance: _S, owner: type[Any] | None = None, /
    ) -> BoundCachedFunction[_P2, Concatenate[_S, _P2], _R2]: ...


class BoundCachedAsFunction(Protocol[_P_bound, _P, _R_co]):
    """A method decorated by ``@cached_as``, read from an instance (see :class:`BoundCachedFunction`)."""

    def __call__(self, *args: _P_bound.args, **kwargs: _P_bound.kwargs) -> _R_co: ...
    def invalidate(self, *args: _P.args, **kwargs: _P.kwargs) -> None: ...
    def key(self, *args: _P.args, **kwargs: _P.kwargs) -> str: ...


class CachedAsFunction(Protocol[_P, _R_co]):
    """A function decorated by ``@cached_as``: called as before, plus ``invalidate()`` and
    ``key()`` (its Redis key, a str) taking the same arguments."""

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R_co: ...

    def invalidate(self, *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Drop the cached result of these arguments."""

    def key(self, *args: _P.args, **kwargs: _P.kwargs) -> str:
        """The Redis key of the result of these arguments."""
        raise NotImplementedError

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None, /) -> Self: ...
    @overload
    def __get__(
        self: CachedAsFunction[Concatenate[_S, _P2], _R2], instance: _S, owner: type[Any] | None = None, /
    ) -> BoundCachedAsFunction[_P2, Concatenate[_S, _P2], _R2]: ...


class CacheDecorator(Protocol):
    """What ``cached(timeout=...)`` returns."""

    def __call__(self, func: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...


class CachedAsDecorator(Protocol):
    """What ``cached_as(*samples)`` returns."""

    def __call__(self, func: Callable[_P, _R], /) -> CachedAsFunction[_P, _R]: ...


class _SameFunction(Protocol):
    """What ``cached_as(a_list)`` returns: the function itself, uncached."""

    def __call__(self, func: _F, /) -> _F: ...


@overload
def cached_as(
    sample: list[Any],
    /,
    *,
    timeout: int | None = None,
    extra: Any = None,
    lock: bool | None = None,
    keep_fresh: bool = False,
) -> _SameFunction: ...


@overload
def cached_as(
    *samples: Sample,
    timeout: int | None = None,
    extra: Any = None,
    lock: bool | None = None,
    keep_fresh: bool = False,
) -> CachedAsDecorator: ...


def cached_as(
    *samples: Any,
    timeout: int | None = None,
    extra: Any = None,
    lock: bool | None = None,
    keep_fresh: bool = False,
) -> Any:
    """Cache a function's result like a queryset: it is dropped when a row that could change any
    of ``samples`` (querysets, models or instances) is saved or deleted.

    The result is never stored when an invalidation of the samples ran while it was computed
    (``keep_fresh`` is always in effect), nor inside a transaction that has written.
    """
    # keep_fresh is accepted for compatibility with 7.2 and otherwise unused: a result computed
    # while its samples were invalidated is never stored (store.get_or_compute compares epochs),
    # which is what keep_fresh=True asked for in 7.2, so it is always on here.
    del keep_fresh
    if not samples:
        raise TypeError("cached_as() needs at least one queryset, model or instance")
    if len(samples) == 1 and isinstance(samples[0], list):
        # a list, not a queryset (Paginator's object_list of an empty page): nothing to cache by
        return cast(_SameFunction, lambda func: func)
    return cast(CachedAsDecorator, _CachedAs(Samples(samples), timeout, extra, lock))


class _CachedAs:
    """The decorator made by ``cached_as(*samples)``: calling it with a function gives the cached
    function (a plain function, so a decorated method binds like any other) with ``invalidate()``
    and ``key()``."""

    def __init__(self, samples: Samples, timeout: int | None, extra: Any, lock: bool | None) -> None:
        self.samples = samples
        self.timeout: int = samples.timeout() if timeout is None else timeout
        self.lock = samples.lock() if lock is None else lock
        self.extra = extra

    def call_key(self, func: Callable, args: tuple, kwargs: dict) -> str:
        """The key of a call, without the prefix."""
        return func_key(func, args, kwargs, (extra_value(self.extra, args, kwargs), self.samples.key()))

    def key(self, func: Callable, args: tuple, kwargs: dict) -> str:
        """The Redis key of a call (behind its shard's hash tag on a cluster)."""
        key = self.call_key(func, args, kwargs)
        return placed(self.samples.prefix(func), key) + key

    def call(self, func: Callable[..., _R], args: tuple, kwargs: dict) -> _R:
        """A call of the cached function: the stored result, or the function's (then stored).
        Uncached when caching is off or a transaction on a sample's database has written."""
        if not settings.CACHEOPS_ENABLED or self.samples.dirty():
            return func(*args, **kwargs)
        value, hit = get_or_compute(
            self.samples.prefix(func),
            self.call_key(func, args, kwargs),
            lambda: func(*args, **kwargs),
            self.samples.conditions,
            timeout=self.timeout,
            lock=self.lock,
            tables=self.samples.tables(),
            storable=self.samples.storable,
        )
        cache_read.send(sender=None, func=func, hit=hit)
        return cast(_R, value)

    def __call__(self, func: Callable[_P, _R]) -> CachedAsFunction[_P, _R]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(func, args, kwargs)

        def invalidate(*args: Any, **kwargs: Any) -> None:
            """Drop the cached result for these arguments."""
            cache._delete(self.key(func, args, kwargs))

        def key(*args: Any, **kwargs: Any) -> str:
            """The Redis key of the result for these arguments."""
            return self.key(func, args, kwargs)

        wrapper.invalidate = invalidate  # type: ignore[attr-defined]
        wrapper.key = key  # type: ignore[attr-defined]
        return cast("CachedAsFunction[_P, _R]", wrapper)


class CacheKey(str, Generic[_V]):
    """The full key of a cached call (``func.key(*args)``), with ``get()`` (raising
    :class:`CacheMiss`), ``set(value)`` (for the function's timeout) and ``delete()`` of that entry.
    ``_V`` is the type of the function's results."""

    _store: Any = None
    timeout: int | None = None

    @classmethod
    def make(cls, value: str, store: Any, timeout: int | None = None) -> CacheKey[Any]:
        """``store``: an object with ``get(key)`` (raising CacheMiss), ``set(key, value, timeout)``
        and ``delete(key)`` of full keys."""
        key: CacheKey[Any] = cls(value)
        key._store = store
        key.timeout = timeout
        return key

    def get(self) -> _V:
        """The value stored under this key; raises CacheMiss when there is none."""
        value: _V = self._store.get(str(self))
        return value

    def set(self, value: _V) -> None:
        """Store ``value`` under this key for the function's timeout."""
        self._store.set(str(self), value, self.timeout)

    def delete(self) -> None:
        """Forget this key."""
        self._store.delete(str(self))


class _FullKeys:
    """The get/set/delete of a :class:`RedisCache` for keys that carry their prefix already."""

    def __init__(self, cache: RedisCache) -> None:
        self.cache = cache

    def get(self, key: str) -> Any:
        value = self.cache._get(key)
        if value is MISSING:
            raise CacheMiss(key)
        return value

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        self.cache._set(key, value, timeout)

    def delete(self, key: str) -> None:
        self.cache._delete(key)


def extra_value(extra: Any, args: tuple, kwargs: dict) -> Any:
    """``extra`` of a cached function: called with the call's arguments when it is callable."""
    return extra(*args, **kwargs) if callable(extra) else extra


class RedisCache:
    """A plain time-based cache in Redis (not invalidated by saves): ``conn``, a redis-py client,
    or cacheops' own client when None. Keys get the ``CACHEOPS_PREFIX`` of the operation (the
    prefix callable sees no database nor table)."""

    def __init__(self, conn: redis.Redis | None = None) -> None:
        self.conn = conn

    def _client(self) -> Any:
        return get_client() if self.conn is None else self.conn

    @handle_connection_failure(fallback=MISSING)
    def _get(self, key: str) -> Any:
        data = self._client().get(key)
        return MISSING if data is None else loads(data)

    @handle_connection_failure()
    def _set(self, key: str, value: Any, timeout: int | None = None) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, not {timeout!r}")
        self._client().set(key, dumps(value), ex=timeout)

    @handle_connection_failure()
    def _delete(self, key: str) -> None:
        self._client().delete(key)

    def get(self, key: str) -> Any:
        """The value stored under ``key``; raises CacheMiss when there is none."""
        value = self._get(get_prefix() + key)
        if value is MISSING:
            raise CacheMiss(key)
        return value

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds (forever when None)."""
        self._set(get_prefix() + key, value, timeout)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._delete(get_prefix() + key)

    @overload
    def cached(self, timeout: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...

    @overload
    def cached(self, timeout: int | None = None, extra: Any = None) -> CacheDecorator: ...

    def cached(self, timeout: Any = None, extra: Any = None) -> Any:
        """Cache a function's results for ``timeout`` seconds, keyed by its arguments and ``extra``
        (called with the arguments when it is callable)."""
        if callable(timeout):  # used bare: @cache.cached
            return self.cached()(timeout)

        def decorator(func: Callable[_P, _R]) -> CachedFunction[_P, _R]:
            def make_key(*args: Any, **kwargs: Any) -> str:
                return get_prefix(func=func) + func_key(func, args, kwargs, extra_value(extra, args, kwargs))

            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if not settings.CACHEOPS_ENABLED:
                    return func(*args, **kwargs)
                key = make_key(*args, **kwargs)
                value = self._get(key)
                hit = value is not MISSING
                if not hit:
                    value = func(*args, **kwargs)
                    self._set(key, value, timeout)
                cache_read.send(sender=None, func=func, hit=hit)
                return value

            def invalidate(*args: Any, **kwargs: Any) -> None:
                """Drop the cached result for these arguments."""
                self._delete(make_key(*args, **kwargs))

            def key(*args: Any, **kwargs: Any) -> CacheKey[Any]:
                """The entry of these arguments: a str with get(), set(value) and delete()."""
                return CacheKey.make(make_key(*args, **kwargs), _FullKeys(self), timeout)

            wrapper.invalidate = invalidate  # type: ignore[attr-defined]
            wrapper.key = key  # type: ignore[attr-defined]
            return cast("CachedFunction[_P, _R]", wrapper)

        return cast(CacheDecorator, decorator)

    @overload
    def cached_view(
        self, timeout: Callable[Concatenate[_Req, _P], _Resp], /
    ) -> CachedView[_Req, _P, _Resp]: ...

    @overload
    def cached_view(self, timeout: int | None = None, extra: Any = None) -> ViewDecorator: ...

    def cached_view(self, timeout: Any = None, extra: Any = None) -> Any:
        """``@cache.cached_view(timeout=...)``: see :func:`cacheops.cached_view`."""
        from .viewcache import cache_view, view_extra

        if callable(timeout):  # used bare
            return self.cached_view()(timeout)
        return lambda view: cache_view(view, self.cached(timeout=timeout, extra=view_extra(extra)))


cache = RedisCache()


@overload
def cached(timeout: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...


@overload
def cached(timeout: int | None = None, extra: Any = None) -> CacheDecorator: ...


def cached(timeout: Any = None, extra: Any = None) -> Any:
    """``@cached``, ``@cached()`` or ``@cached(timeout=60, extra=...)``: time-based function cache."""
    if callable(timeout):  # used bare: @cached
        return cache.cached()(timeout)
    return cache.cached(timeout=timeout, extra=extra)
