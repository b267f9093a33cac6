"""Function caching: ``@cached_as`` (invalidated like querysets) and ``@cached`` (time based),
plus the plain ``cache.get/set/delete`` API raising :class:`CacheMiss`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections
from django.db.models import Model, QuerySet

from .conf import model_profile, settings
from .keys import QueryPlan, digest, func_key, get_prefix, query_plan
from .redis import get_client, handle_connection_failure
from .signals import cache_read
from .store import MISSING, dumps, get_or_compute, loads
from .transaction import is_dirty
from .tree import dnfs

__all__ = ["CacheMiss", "cache", "cached", "cached_as"]


class CacheMiss(Exception):
    """Raised by ``cache.get()`` when the key holds nothing."""


def _as_queryset(sample: Any) -> Any:
    if isinstance(sample, QuerySet):
        return sample
    if isinstance(sample, Model):
        return type(sample)._base_manager.using(sample._state.db or "default").filter(pk=sample.pk)
    if isinstance(sample, type) and issubclass(sample, Model):
        return sample._base_manager.all()
    raise TypeError(f"cached_as() takes querysets, models or model instances, not {sample!r}")


def cached_as(
    *samples: Any,
    timeout: int | None = None,
    extra: Any = None,
    lock: bool | None = None,
    keep_fresh: bool = False,
) -> Callable[[Callable], Callable]:
    """Cache a function's result like a queryset: it is dropped when a row that could change any
    of ``samples`` (querysets, models or instances) is saved or deleted.

    The result is never stored when an invalidation of the samples ran while it was computed
    (``keep_fresh`` is always in effect), nor inside a transaction that has written.
    """
    if not samples:
        raise TypeError("cached_as() needs at least one queryset, model or instance")
    querysets = [_as_queryset(s) for s in samples]
    profiles = []
    for qs in querysets:
        profile = model_profile(qs.model)
        if profile is None:
            raise ImproperlyConfigured(
                f"Cacheops is not enabled for {qs.model._meta.label_lower}: give it a profile in CACHEOPS"
            )
        profiles.append(profile)
    if timeout is None:
        timeout = min(p["timeout"] for p in profiles)
    if lock is None:
        lock = any(p["lock"] for p in profiles)
    sample_keys: list[str] = []
    plans: list[QueryPlan | None] = []

    def sample_key() -> str:
        # computed once, on first use: the samples' SQL is part of the function's key
        if not sample_keys:
            keys = []
            for qs, p in zip(querysets, profiles):
                try:
                    plan = query_plan(qs, "as", db_agnostic=p["db_agnostic"])
                    keys.append(plan.key)
                    plans.append(plan)
                except EmptyResultSet:  # a sample matching nothing, e.g. filter(pk__in=[])
                    keys.append(f"empty:{qs.model._meta.label_lower}")
                    plans.append(None)
            sample_keys.append(digest(*keys))
        return sample_keys[0]

    def sample_conditions(i: int, qs: Any) -> dict[str, list[dict[str, str]]]:
        sample_key()
        plan = plans[i]
        if plan is None:
            return dnfs(qs.query, connections[qs.db].vendor)
        return plan.get_conditions(qs)

    def conditions() -> dict[str, list[dict[str, str]]]:
        merged: dict[str, list[dict[str, str]]] = {}
        for i, qs in enumerate(querysets):
            for table, conjs in sample_conditions(i, qs).items():
                bucket = merged.setdefault(table, [])
                bucket.extend(c for c in conjs if c not in bucket)
        return {t: ([{}] if {} in conjs else conjs) for t, conjs in merged.items()}

    def prefix() -> str:
        if settings.CACHEOPS_PREFIX is None:
            return get_prefix()  # '' (the cluster hash tag on a Redis Cluster)
        return get_prefix(dbs=[qs.db for qs in querysets], tables=known_tables())

    tables: list[str] = []

    def known_tables() -> list[str]:
        if not tables:
            tables.extend(sorted({t for i, qs in enumerate(querysets) for t in sample_conditions(i, qs)}))
        return tables

    def decorator(func: Callable) -> Callable:
        def make_key(*args: Any, **kwargs: Any) -> str:
            return func_key(func, args, kwargs, (extra, sample_key()))

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not settings.CACHEOPS_ENABLED or any(is_dirty(qs.db) for qs in querysets):
                return func(*args, **kwargs)
            key = make_key(*args, **kwargs)
            value, hit = get_or_compute(
                prefix(),
                key,
                lambda: func(*args, **kwargs),
                conditions,
                timeout=timeout,
                lock=lock,
                tables=known_tables(),
            )
            cache_read.send(sender=None, func=func, hit=hit)
            return value

        def invalidate(*args: Any, **kwargs: Any) -> None:
            """Drop the cached result for these arguments."""
            cache.delete(make_key(*args, **kwargs), prefix=prefix())

        wrapper.invalidate = invalidate  # type: ignore[attr-defined]
        wrapper.key = make_key  # type: ignore[attr-defined]
        return wrapper

    return decorator


class RedisCache:
    """A plain time-based cache in cacheops' Redis (not invalidated by saves)."""

    @handle_connection_failure(fallback=MISSING)
    def _get(self, key: str) -> Any:
        data = get_client().get(key)
        return MISSING if data is None else loads(data)

    def get(self, key: str, prefix: str = "") -> Any:
        """The value stored under ``key``; raises CacheMiss when there is none."""
        value = self._get(prefix + key)
        if value is MISSING:
            raise CacheMiss(key)
        return value

    @handle_connection_failure()
    def set(self, key: str, value: Any, timeout: int | None = None, prefix: str = "") -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds (forever when None)."""
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, not {timeout!r}")
        get_client().set(prefix + key, dumps(value), ex=timeout)

    @handle_connection_failure()
    def delete(self, key: str, prefix: str = "") -> None:
        """Forget ``key``."""
        get_client().delete(prefix + key)

    def cached(
        self, timeout: int | None = None, extra: Any = None, key_func: Callable | None = None
    ) -> Callable[[Callable], Callable]:
        """Cache a function's results for ``timeout`` seconds, keyed by its arguments and ``extra``."""

        def decorator(func: Callable) -> Callable:
            def make_key(*args: Any, **kwargs: Any) -> str:
                if key_func is not None:
                    return "c:" + digest(f"{func.__module__}.{func.__qualname__}", key_func(*args, **kwargs))
                return func_key(func, args, kwargs, extra)

            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if not settings.CACHEOPS_ENABLED:
                    return func(*args, **kwargs)
                key = make_key(*args, **kwargs)
                value = self._get(key)
                hit = value is not MISSING
                if not hit:
                    value = func(*args, **kwargs)
                    self.set(key, value, timeout)
                cache_read.send(sender=None, func=func, hit=hit)
                return value

            def invalidate(*args: Any, **kwargs: Any) -> None:
                """Drop the cached result for these arguments."""
                self.delete(make_key(*args, **kwargs))

            wrapper.invalidate = invalidate  # type: ignore[attr-defined]
            wrapper.key = make_key  # type: ignore[attr-defined]
            return wrapper

        return decorator


cache = RedisCache()


def cached(timeout: Any = None, extra: Any = None, key_func: Callable | None = None) -> Any:
    """``@cached``, ``@cached()`` or ``@cached(timeout=60, extra=...)``: time-based function cache."""
    if callable(timeout):  # used bare: @cached
        return cache.cached()(timeout)
    return cache.cached(timeout=timeout, extra=extra, key_func=key_func)
