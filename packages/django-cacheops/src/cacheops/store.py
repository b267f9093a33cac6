"""Reading and writing cached results in Redis (both modes), with the race guard and the lock.

The race guard: before a result is computed, the epochs of the tables it reads are
noted; an invalidation bumps its table's epoch, and the store script refuses to store
when any epoch moved, so a read that began before a write never caches its old result.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .conf import settings
from .redis import get, get_client, handle_connection_failure, mget, placed, run_script, shard_of
from .rows import pack, unpack

GENERATION_KEY = "cacheops:generation"  # replaced by invalidate_all(), which flushes the database


def generation_key(prefix: str = "") -> str:
    """The generation key's name (on a cluster, one per shard: in the shard of placed ``prefix``)."""
    return shard_of(prefix) + GENERATION_KEY


class _Missing:
    __slots__ = ()


MISSING: Any = _Missing()


def dumps(value: Any) -> bytes:
    """``value`` serialized (lists of model instances in the compact form of :mod:`cacheops.rows`)."""
    serializer = settings.CACHEOPS_SERIALIZER
    packed = pack(value)
    if packed is not value:
        try:
            return serializer.dumps(packed)
        except Exception:  # a value the compact form can't hold (e.g. a memoryview): pickle as is
            pass
    return serializer.dumps(value)


def loads(data: bytes) -> Any:
    return unpack(settings.CACHEOPS_SERIALIZER.loads(data))


@handle_connection_failure(fallback=MISSING)
def read(prefix: str, key: str) -> Any:
    """The cached value under ``key``, or MISSING."""
    if settings.CACHEOPS_INSIDEOUT:
        data = run_script("read_insideout", [prefix, key])
    else:
        data = get(prefix + key)
    if data is None or data is False:
        return MISSING
    return loads(data)


@handle_connection_failure(fallback=(MISSING, None))
def read_with_epochs(prefix: str, key: str, tables: Any) -> tuple[Any, list[list[str]] | None]:
    """``(value or MISSING, epochs of tables)`` in one round trip: a miss needn't ask again."""
    keys = epoch_keys(prefix, tables)
    if settings.CACHEOPS_INSIDEOUT:
        reply = run_script("read_insideout", [prefix, key, *keys])
        data, values = reply[0], reply[1:]
    else:
        data, *values = mget([prefix + key, *keys])
    if data is None or data is False:
        return MISSING, [[k, (v or b"").decode()] for k, v in zip(keys, values)]
    return loads(data), None


def epoch_keys(prefix: str, tables: Any) -> list[str]:
    return [generation_key(prefix), *(f"{prefix}epoch:{t}" for t in sorted(set(tables)))]


@handle_connection_failure(fallback=None)
def snapshot(prefix: str, tables: Any) -> list[list[str]] | None:
    """The current epochs of ``tables`` (taken before the database is read)."""
    keys = epoch_keys(prefix, tables)
    values = mget(keys)
    return [[k, (v or b"").decode()] for k, v in zip(keys, values)]


def encode_dnfs(dnfs: dict[str, list[dict[str, str]]]) -> str:
    """The JSON the store scripts read (remembered on a plan's conditions: see keys.Conditions)."""
    encoded = getattr(dnfs, "encoded", None)
    if encoded is None:
        encoded = json.dumps({t: [sorted(c.items()) for c in conjs] for t, conjs in dnfs.items()})
        if hasattr(dnfs, "encoded"):
            dnfs.encoded = encoded
    return encoded


@handle_connection_failure(fallback=False)
def write(
    prefix: str,
    key: str,
    value: Any,
    dnfs: dict[str, list[dict[str, str]]],
    timeout: int,
    epochs: list | None,
) -> bool:
    """Store ``value`` under ``key`` linked to ``dnfs``; False when an invalidation raced with it."""
    if epochs is None:  # the snapshot failed: storing could be stale
        return False
    prefix = placed(prefix, key)
    args = [prefix, key, dumps(value), encode_dnfs(dnfs), int(timeout), json.dumps(epochs)]
    if settings.CACHEOPS_INSIDEOUT:
        return bool(run_script("cache_thing_insideout", [*args, uuid.uuid4().hex]))
    return bool(run_script("cache_thing", args))


# ------------------------------------------------------------------ dog-pile lock

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@handle_connection_failure(fallback=None)
def _acquire(lock_key: str, token: str) -> bool | None:
    timeout_ms = int(settings.CACHEOPS_LOCK_TIMEOUT * 1000)
    return bool(get_client().set(lock_key, token, nx=True, px=timeout_ms))


@handle_connection_failure(fallback=None)
def _release(lock_key: str, token: str) -> None:
    get_client().eval(_RELEASE, 1, lock_key, token)


@handle_connection_failure(fallback=False)
def _locked(lock_key: str) -> bool:
    return bool(get_client().exists(lock_key))


def get_or_compute(
    prefix: str,
    key: str,
    compute: Callable[[], Any],
    dnfs: Callable[[], dict[str, list[dict[str, str]]]],
    timeout: int,
    lock: bool = False,
    tables: Any = None,
    known: list[list[str]] | None = None,
    storable: Callable[[], bool] | None = None,
) -> tuple[Any, bool]:
    """``(value, hit)``: the cached value, or ``compute()`` stored linked to ``dnfs()``.

    The epochs of the tables read are noted before ``compute()`` runs (the race guard). When
    ``tables`` (those the query is known to read) are given, their epochs come with the read;
    ``known``: epochs of ``tables`` that came with a miss the caller has just read.
    With ``lock`` one caller computes while the others wait for its result (the dog-pile lock).
    ``storable()`` (asked on a miss) False: the result is returned but not stored (it may come
    from a transaction's snapshot, see :func:`cacheops.transaction.may_store`).
    """
    prefix = placed(prefix, key)  # its shard's, on a cluster
    if known is not None:  # the caller has just read a miss with these epochs
        value = MISSING
    elif tables is not None:
        value, known = read_with_epochs(prefix, key, tables)
    else:
        value = read(prefix, key)
    if value is not MISSING:
        return value, True

    def compute_and_store() -> Any:
        nonlocal known
        conditions = dnfs()
        epochs: list[list[str]] | None
        if known is not None and set(conditions) <= set(tables):
            epochs = known  # read before compute(): still a valid snapshot
        else:
            epochs = snapshot(prefix, conditions)
        known = None  # a second attempt (after waiting for a lock) snapshots afresh
        result = compute()
        if storable is None or storable():
            write(prefix, key, result, conditions, timeout, epochs)
        return result

    if not lock:
        return compute_and_store(), False
    lock_key = f"{prefix}lock:{key}"
    token = uuid.uuid4().hex
    delay = 0.005
    while True:
        acquired = _acquire(lock_key, token)
        if acquired is None:  # Redis is gone and degrading: just compute
            return compute(), False
        if acquired:
            try:
                return compute_and_store(), False
            finally:
                _release(lock_key, token)
        # somebody else computes: wait for the lock to go, then read their result
        while _locked(lock_key):
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        value = read(prefix, key)
        if value is not MISSING:
            return value, True


class LocalGets:
    """Process-local results of get() for profiles with ``local_get``, dropped by invalidation
    of their table made in this process (meant for rows that practically never change).

    A result is kept only when no invalidation of its table came while it was read: another
    thread's save that commits and invalidates in the meantime may have changed the row after
    the read saw it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], list] = {}
        self._clears: dict[str, int] = {}  # table -> invalidations of it so far
        self._clears_all = 0  # clear() of everything so far

    def _seen(self, table: str) -> tuple[int, int]:
        return self._clears_all, self._clears.get(table, 0)

    def get_or_compute(self, table: str, key: str, compute: Callable[[], list]) -> list:
        found = self._data.get((table, key))
        if found is None:
            seen = self._seen(table)
            found = compute()
            with self._lock:
                if self._seen(table) == seen:
                    self._data[(table, key)] = found
        return list(found)

    def clear(self, tables: Any = None) -> None:
        with self._lock:
            if tables is None:
                self._data.clear()
                self._clears_all += 1
            else:
                tables = set(tables)
                for table in tables:
                    self._clears[table] = self._clears.get(table, 0) + 1
                for k in [k for k in self._data if k[0] in tables]:
                    del self._data[k]


local_gets = LocalGets()
