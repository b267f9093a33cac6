"""Fast mode: recent results kept in process memory, checked against small stamps in Redis.

Turned on per model with the ``local`` profile option (``CACHEOPS = {'app.*': {'ops': 'all',
'timeout': 600, 'local': True}}``, or for every model through ``CACHEOPS_DEFAULTS``).

Every invalidation of a table (in any process) increments that table's epoch key in Redis, and
``invalidate_all()`` replaces the generation key. A result kept in memory remembers the values
of those stamps as they were read just *before* its payload was read or computed, so a hit costs
one ``MGET`` of a few short strings instead of fetching and unpickling the payload; when a stamp
moved, the copy is dropped and the normal Redis read runs. The check is per table (any write to
a table the result reads makes the memory copy go, while the Redis entry stays as granular as
ever), so fast mode pays off for read-mostly tables.

The memory holds at most ``CACHEOPS_LOCAL_MAX_ENTRIES`` results (least recently used go first)
and is shared by the threads of a process. Callers get copies: fresh model instances (related
objects from ``select_related`` too) and fresh dicts, so changing a result never changes what
the next caller gets (values nested inside fields, such as a JSON dict, are shared).
"""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.db.models import Model
from django.db.models.base import ModelState

from .conf import settings
from .redis import FAILURES, get_client, is_cluster, load_script
from .store import MISSING, epoch_keys, get_or_compute, loads, write

__all__ = ["LocalCache", "fast_get_or_compute", "local_cache"]


class Entry:
    __slots__ = ("value", "stamp_keys", "stamps", "expires")

    def __init__(self, value: Any, stamp_keys: list[str], stamps: list[Any], expires: float) -> None:
        self.value = value
        self.stamp_keys = stamp_keys
        self.stamps = stamps
        self.expires = expires


class LocalCache:
    """A thread-safe LRU map ``(prefix, key) -> Entry`` bounded by CACHEOPS_LOCAL_MAX_ENTRIES."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], Entry] = OrderedDict()

    def lookup(self, prefix: str, key: str) -> Entry | None:
        """The entry for ``key`` (made the most recent), or None; expired entries are dropped."""
        k = (prefix, key)
        with self._lock:
            entry = self._data.get(k)
            if entry is None:
                return None
            if entry.expires <= time.monotonic():
                del self._data[k]
                return None
            self._data.move_to_end(k)
            return entry

    def put(self, prefix: str, key: str, entry: Entry) -> None:
        limit = max(int(settings.CACHEOPS_LOCAL_MAX_ENTRIES), 0)
        with self._lock:
            self._data[(prefix, key)] = entry
            self._data.move_to_end((prefix, key))
            while len(self._data) > limit:
                self._data.popitem(last=False)

    def discard(self, prefix: str, key: str) -> None:
        with self._lock:
            self._data.pop((prefix, key), None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


local_cache = LocalCache()


# ------------------------------------------------------------------ copies handed to callers


def _copy_instance(obj: Model, _new: Any = object.__new__) -> Model:
    """A new instance with copies of the field values dict and of the state (related objects
    cached by ``select_related`` copied too); no __init__, no signals."""
    data = obj.__dict__.copy()
    state = _new(ModelState)
    state_data = data["_state"].__dict__
    if state_data:
        state_data = state_data.copy()
        fields_cache = state_data.get("fields_cache")
        if fields_cache is not None:  # ModelState.__del__ clears it: never share the dict
            state_data["fields_cache"] = (
                {
                    name: _copy_instance(value) if isinstance(value, Model) else value
                    for name, value in fields_cache.items()
                }
                if fields_cache
                else {}
            )
        if "peers" in state_data:  # Django 6.1 fetch-mode weak references of one result set
            del state_data["peers"]
        state.__dict__ = state_data
    data["_state"] = state
    if "_prefetched_objects_cache" in data:
        del data["_prefetched_objects_cache"]
    new = _new(obj.__class__)
    new.__dict__ = data
    return new


def _copy_item(item: Any) -> Any:
    if isinstance(item, Model):
        return _copy_instance(item)
    if isinstance(item, dict):
        return dict(item)
    return item


def fresh_copy(value: Any) -> Any:
    """A copy of a cached result a caller may change freely (rows copied one level deep)."""
    if isinstance(value, list):
        if value and isinstance(value[0], Model):  # rows of one queryset are all alike
            return [_copy_instance(item) for item in value]
        return [_copy_item(item) for item in value]
    if isinstance(value, dict):
        return dict(value)
    return value


# ------------------------------------------------------------------ stamps


class OneByOne:
    """Stands in for a pipeline: each queued command runs at once and ``execute()`` returns the
    replies in order (for a Redis Cluster, whose pipelines refuse MGET and EVALSHA)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.replies: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if name == "script_load":  # a script reloading itself: not a reply of the "pipeline"
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            reply = method(*args, **kwargs)
            self.replies.append(reply)
            return reply

        return call

    def execute(self) -> list[Any]:
        return self.replies


def still_valid(entry: Entry, stamps: list[Any]) -> bool:
    """Whether the stamps just read from Redis are the ones the entry was read under."""
    return stamps == entry.stamps and entry.expires > time.monotonic()


def queue_read(pipe: Any, prefix: str, key: str, tables: Any, script: Any = None) -> tuple[list[str], Any]:
    """Queue on ``pipe``: make sure the generation stamp exists, read the stamps of ``tables``,
    then the payload and its remaining time to live. Returns the stamp keys and what queuing the
    insideout read script returned (an awaitable on an asyncio pipeline: await it before executing)."""
    keys = epoch_keys(prefix, tables)
    # a flushed Redis must never bring back old stamp values, so the generation is never empty
    pipe.set(keys[0], uuid.uuid4().hex, nx=True)  # keys[0] is the generation key
    pipe.mget(keys)
    queued = None
    if script is not None:
        queued = script(args=[prefix, key], client=pipe)
    else:
        pipe.get(prefix + key)
    return keys, queued


def remember_read(prefix: str, key: str, keys: list[str], replies: list[Any]) -> Any:
    """The value read by :func:`queue_read` (a copy), kept in memory; MISSING when not cached."""
    _, stamps, data, pttl = replies
    if data is None or data is False:
        return MISSING
    value = loads(data)
    if pttl is not None and pttl > 0:
        local_cache.put(prefix, key, Entry(fresh_copy(value), keys, stamps, time.monotonic() + pttl / 1000))
    return value


def _degrade(e: Exception) -> None:
    if not settings.CACHEOPS_DEGRADE_ON_FAILURE:
        raise e
    warnings.warn(f"cacheops cache is unreachable: {e}", RuntimeWarning, stacklevel=3)


def fast_get_or_compute(
    prefix: str,
    key: str,
    compute: Callable[[], Any],
    dnfs: Callable[[], dict[str, list[dict[str, str]]]],
    timeout: int,
    lock: bool = False,
) -> tuple[Any, bool]:
    """``(value, hit)`` like :func:`cacheops.store.get_or_compute`, served from process memory
    while the stamps of the tables the result reads are unchanged in Redis."""
    client = get_client()
    try:
        entry = local_cache.lookup(prefix, key)
        if entry is not None:
            if still_valid(entry, client.mget(entry.stamp_keys)):
                return fresh_copy(entry.value), True
            local_cache.discard(prefix, key)
        conditions = dnfs()
        # a cluster pipeline refuses MGET and EVALSHA: there the same calls go one by one
        pipe = OneByOne(client) if is_cluster() else client.pipeline(transaction=False)
        script = load_script("read_insideout") if settings.CACHEOPS_INSIDEOUT else None
        keys, _ = queue_read(pipe, prefix, key, conditions, script)
        pipe.pttl(prefix + key)
        replies = pipe.execute()
    except FAILURES as e:
        _degrade(e)
        return compute(), False
    value = remember_read(prefix, key, keys, replies)
    if value is not MISSING:
        return value, True
    if lock:  # the dog-pile lock lives in the classic path
        return get_or_compute(prefix, key, compute, lambda: conditions, timeout=timeout, lock=True)
    stamps = replies[1]
    # the stamps read before the database is: the race guard of store.write() checks them
    epochs = [[k, (v or b"").decode()] for k, v in zip(keys, stamps)]
    result = compute()
    if write(prefix, key, result, conditions, timeout, epochs):
        local_cache.put(prefix, key, Entry(fresh_copy(result), keys, stamps, time.monotonic() + timeout))
    return result, False
