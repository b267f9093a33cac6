"""A time-based cache in local files, for results that are costly to compute and needn't be shared.

Each value is pickled into its own file under a two-level fan-out of directories; the file's
modification time holds its expiry time, so expired entries can be found (and cleaned by
``manage.py cleanfilecache``) by a stat alone.  Writes go to a temporary file that is renamed
over the final one, so a reader sees either the old value or the new one, never half a file.

Module level ``get``, ``set``, ``delete``, ``cached``, ``cached_view`` and ``clean`` use a default
:class:`FileCache` whose directory and timeout come from the ``FILE_CACHE_DIR`` and
``FILE_CACHE_TIMEOUT`` settings (read on every use, so ``override_settings`` works).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast, overload

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from .conf import Defaults, settings
from .keys import get_prefix
from .simple import CacheDecorator, CachedFunction, CacheKey, CacheMiss, extra_value

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

    from .viewcache import CachedView, ViewDecorator

    _Req = TypeVar("_Req", bound=HttpRequest)
    _Resp = TypeVar("_Resp", bound=HttpResponseBase)

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = [
    "CacheMiss",
    "FileCache",
    "cached",
    "cached_view",
    "clean",
    "default",
    "delete",
    "get",
    "set",
]

_TEMP_PREFIX = ".tmp-"
# a temporary file left by a writer that died is removed by clean() once it is this old
_STALE_TEMP_SECONDS = 60 * 60


def _setting(name: str) -> Any:
    """A FILE_CACHE_* setting: Django's when settings are configured, the default otherwise."""
    if not django_settings.configured:
        return getattr(Defaults, name)
    return getattr(settings, name)


def _check_timeout(timeout: Any, what: str) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{what} must be a positive number of seconds, not {timeout!r}")
    return int(timeout)


def _key_of(func: Callable, args: tuple, kwargs: dict, extra: Any) -> str:
    name = f"{func.__module__}.{func.__qualname__}"
    return _prefix(func) + "f:" + repr((name, args, sorted(kwargs.items()), extra))


def _prefix(func: Callable | None = None) -> str:
    """The ``CACHEOPS_PREFIX`` of a key, as for the Redis cache ('' without configured settings)."""
    if not django_settings.configured:
        return ""
    return get_prefix(func=func)


class FileCache:
    """A cache keeping each value in a file under ``path``.

    :param path: the cache directory (created on first write); ``None`` means ``FILE_CACHE_DIR``.
    :param timeout: default lifetime in seconds; ``None`` means ``FILE_CACHE_TIMEOUT``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: int | None = None) -> None:
        self._path = None if path is None else Path(path)
        self._timeout = None if timeout is None else _check_timeout(timeout, "FileCache timeout")

    def __repr__(self) -> str:
        return f"<FileCache {str(self.path)!r}>"

    @property
    def path(self) -> Path:
        """The cache directory."""
        if self._path is not None:
            return self._path
        value = _setting("FILE_CACHE_DIR")
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise ImproperlyConfigured(f"FILE_CACHE_DIR must be a directory path, not {value!r}")
        return Path(value)

    @property
    def timeout(self) -> int:
        """The lifetime given to values stored without a timeout of their own."""
        if self._timeout is not None:
            return self._timeout
        value = _setting("FILE_CACHE_TIMEOUT")
        try:
            return _check_timeout(value, "FILE_CACHE_TIMEOUT")
        except ValueError as e:
            raise ImproperlyConfigured(str(e)) from None

    def filename(self, key: str) -> Path:
        """The file the value of ``key`` (given to :meth:`set`) is kept in."""
        return self._file(_prefix() + key)

    def _file(self, full_key: str) -> Path:
        digest = hashlib.md5(full_key.encode(), usedforsecurity=False).hexdigest()
        return self.path / digest[:2] / digest[2:]

    # ------------------------------------------------------------------ get / set / delete

    def get(self, key: str) -> Any:
        """The value stored under ``key``; raises :class:`CacheMiss` when none is, or it expired."""
        return self._get(_prefix() + key)

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds (the cache's default when None).

        The file is written to a temporary name and renamed into place, so concurrent readers
        never see a partial value.
        """
        self._set(_prefix() + key, value, timeout)

    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it isn't stored)."""
        self._delete(_prefix() + key)

    # the same for keys that carry their CACHEOPS_PREFIX already

    def _get(self, key: str) -> Any:
        filename = self._file(key)
        try:
            with open(filename, "rb") as f:
                expires = os.fstat(f.fileno()).st_mtime
                if expires <= time.time():
                    raise CacheMiss(key)
                data = f.read()
        except FileNotFoundError:
            raise CacheMiss(key) from None
        try:
            return pickle.loads(data)
        except Exception:  # a file from an incompatible version or a foreign writer: not ours to trust
            raise CacheMiss(key) from None

    def _set(self, key: str, value: Any, timeout: int | None = None) -> None:
        timeout = self.timeout if timeout is None else _check_timeout(timeout, "timeout")
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        filename = self._file(key)
        filename.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=filename.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            expires = time.time() + timeout
            os.utime(temp, (expires, expires))
            os.replace(temp, filename)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise

    def _delete(self, key: str) -> None:
        try:
            os.unlink(self._file(key))
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------------ decorators

    @overload
    def cached(self, timeout: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...

    @overload
    def cached(self, timeout: int | None = None, extra: Any = None) -> CacheDecorator: ...

    def cached(self, timeout: Any = None, extra: Any = None) -> Any:
        """Cache a function's results in files, keyed by its name, arguments and ``extra``.

        Use as ``@cache.cached``, ``@cache.cached()`` or ``@cache.cached(timeout=60, extra=...)``.
        The decorated function gets ``.invalidate(*args, **kwargs)`` and ``.key(*args, **kwargs)``.
        """
        if callable(timeout):  # used bare: @cache.cached
            return self.cached()(timeout)
        if timeout is not None:
            _check_timeout(timeout, "timeout")

        def decorator(func: Callable[_P, _R]) -> CachedFunction[_P, _R]:
            def make_key(*args: Any, **kwargs: Any) -> str:
                return _key_of(func, args, kwargs, extra_value(extra, args, kwargs))

            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                key = make_key(*args, **kwargs)
                try:
                    return self._get(key)
                except CacheMiss:
                    pass
                value = func(*args, **kwargs)
                self._set(key, value, timeout)
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
        """Cache a view's responses to GET and HEAD requests in files, keyed by the absolute URI.

        See :func:`cacheops.views.cached_view` for the rules (the same ones apply).
        """
        from .viewcache import cache_view, view_extra

        if callable(timeout):  # used bare
            return self.cached_view()(timeout)
        return lambda view: cache_view(view, self.cached(timeout=timeout, extra=view_extra(extra)))

    # ------------------------------------------------------------------ cleaning

    def _files(self) -> Iterator[os.DirEntry[str]]:
        try:
            top = os.scandir(self.path)
        except FileNotFoundError:
            return
        with top:
            for sub in top:
                if not sub.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(sub.path) as entries:
                    for entry in entries:
                        if entry.is_file(follow_symlinks=False):
                            yield entry

    def clean(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Remove expired entries (and temporary files abandoned by dead writers).

        ``progress(seen, removed)`` is called every 1000 files. Returns the number of files removed.
        """
        now = time.time()
        seen = removed = 0
        for entry in self._files():
            seen += 1
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            if entry.name.startswith(_TEMP_PREFIX):
                # a writer sets the expiry only just before the rename: judge by age instead
                expired = mtime < now - _STALE_TEMP_SECONDS
            else:
                expired = mtime <= now
            if expired:
                try:
                    os.unlink(entry.path)
                    removed += 1
                except FileNotFoundError:
                    pass
            if progress is not None and seen % 1000 == 0:
                progress(seen, removed)
        return removed


class _FullKeys:
    """The get/set/delete of a :class:`FileCache` for keys that carry their prefix already."""

    def __init__(self, cache: FileCache) -> None:
        self.get = cache._get
        self.set = cache._set
        self.delete = cache._delete


default = FileCache()


def get(key: str) -> Any:
    """The value stored under ``key`` in the default file cache; raises :class:`CacheMiss`."""
    return default.get(key)


def set(key: str, value: Any, timeout: int | None = None) -> None:
    """Store ``value`` under ``key`` in the default file cache."""
    default.set(key, value, timeout)


def delete(key: str) -> None:
    """Forget ``key`` in the default file cache."""
    default.delete(key)


@overload
def cached(timeout: Callable[_P, _R], /) -> CachedFunction[_P, _R]: ...


@overload
def cached(timeout: int | None = None, extra: Any = None) -> CacheDecorator: ...


def cached(timeout: Any = None, extra: Any = None) -> Any:
    """``@file_cache.cached(timeout=..., extra=...)`` (bare too): see :meth:`FileCache.cached`."""
    return default.cached(timeout, extra)


@overload
def cached_view(timeout: Callable[Concatenate[_Req, _P], _Resp], /) -> CachedView[_Req, _P, _Resp]: ...


@overload
def cached_view(timeout: int | None = None, extra: Any = None) -> ViewDecorator: ...


def cached_view(timeout: Any = None, extra: Any = None) -> Any:
    """``@file_cache.cached_view(timeout=...)`` (bare too): see :meth:`FileCache.cached_view`."""
    return default.cached_view(timeout, extra)


def clean(progress: Callable[[int, int], None] | None = None) -> int:
    """Remove expired files of the default file cache; returns how many were removed."""
    return default.clean(progress)
