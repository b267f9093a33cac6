"""Fast mode: recent results kept in process memory and checked without fetching the payload.

Turned on per model with the ``local`` profile option (``CACHEOPS = {'app.*': {'ops': 'all',
'timeout': 600, 'local': True}}``, or for every model through ``CACHEOPS_DEFAULTS``).

Every invalidation of a table (in any process) increments that table's epoch key in Redis and
publishes the table's name on the ``cacheops:invalidated`` channel; ``invalidate_all()`` replaces
the generation key and publishes an empty name.  A result kept in memory remembers, from just
*before* its payload was read or computed, what it depends on, and is checked in one of two ways
(``CACHEOPS_LOCAL_CHECK``):

* ``"push"`` (the default): a listener thread per process subscribes to the channel and counts
  the invalidations of every table; a hit compares counters in memory and makes no round trip
  at all.  Writes made by this process are seen at once; writes of other processes once their
  message arrives (normally well under a millisecond; the same guarantee as Redis' own
  client-side caching).  While the listener is not subscribed (starting, Redis unreachable),
  or has heard nothing from Redis for ``Listener.TRUST_FOR`` seconds although it pings every
  ``Listener.PING_EVERY`` (a silent network partition), the memory copies are not trusted and
  the stamps are read instead, and every copy made before a reconnect is dropped (messages may
  have been missed).
* ``"stamps"``: every hit reads the stamps of the tables with one ``MGET`` of a few short strings
  and never the payload: no delay at all for other processes' writes.

The check is per table (any write to a table the result reads makes the memory copy go, while
the Redis entry stays as granular as ever), so fast mode pays off for read-mostly tables.

The memory holds at most ``CACHEOPS_LOCAL_MAX_ENTRIES`` results (least recently used go first)
and is shared by the threads of a process. Callers get copies: fresh model instances (related
objects from ``select_related`` too) and fresh dicts, so changing a result never changes what
the next caller gets (values nested inside fields, such as a JSON dict, are shared).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .async_redis import acall, ascript, get_async_client
from .conf import settings
from .copies import fresh_copy, kept_copy
from .redis import (
    FAILURES,
    INVALIDATION_CHANNEL,
    degrade,
    get_client,
    is_cluster,
    load_script,
    on_client_reset,
)
from .signals import cache_invalidated
from .store import MISSING, epoch_keys, get_or_compute, loads, write

logger = logging.getLogger(__name__)

__all__ = ["LocalCache", "aread", "fast_get_or_compute", "local_cache", "trusted_copy"]


CHANNEL = INVALIDATION_CHANNEL  # where the listener hears invalidations
_ZEROS = itertools.repeat(0)  # the default of every counter (map() stops at the names' end)


class Entry:
    __slots__ = ("value", "stamp_keys", "stamps", "expires", "names", "counts", "checked")

    def __init__(
        self,
        value: Any,
        stamp_keys: list[str],
        stamps: list[Any],
        expires: float,
        names: list[str],
        counts: tuple | None,
    ) -> None:
        self.value = value
        self.stamp_keys = stamp_keys
        self.stamps = stamps
        self.expires = expires
        self.names = names  # the listener's counters of the tables read
        self.counts = counts  # their values seen before the payload was read
        self.checked = -1  # the listener's change number when the counters were last found unchanged


class Listener:
    """A daemon thread (one per process) subscribed to :data:`CHANNEL`, counting invalidations.

    ``counts(names)`` notes the counters of some tables (and the era: bumped by
    ``invalidate_all()`` and by every (re)subscription); ``trusts(entry)`` tells whether none
    of the counters an entry noted moved since, and is False whenever the listener is not
    subscribed (in a forked child, until its own listener is), or has heard
    nothing from Redis (a message or the reply to its ping) for :attr:`TRUST_FOR` seconds: a
    silent network partition (no reset, packets dropped) stops the memory copies from being
    trusted within that time, as a closed connection does at once."""

    PING_EVERY = 0.5  # seconds between two pings of the subscribed connection
    TRUST_FOR = 2.0  # memory copies are trusted while Redis was heard from this recently
    RECONNECT_AFTER = 6.0  # a connection silent this long is closed and made again

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._era = 0
        self._changes = 0  # bumped after every change of a counter or of the era
        self._subscribed = False
        self._heard = 0.0  # time.monotonic() of the last word from Redis
        self._pid = 0
        self._stop: threading.Event | None = None

    # -- what hits use
    def counts(self, names: list[str]) -> tuple | None:
        """The counters of ``names`` now, or None when the listener is not subscribed."""
        if self._pid != os.getpid():
            self.start()
        if not self._subscribed or time.monotonic() - self._heard > self.TRUST_FOR:
            return None
        return (self._era, *map(self._counters.get, names, _ZEROS))

    def trusts(self, entry: Entry) -> bool:
        """Whether none of the counters ``entry`` noted moved since it noted them."""
        noted = entry.counts
        if noted is None or not self._subscribed:
            return False
        if time.monotonic() - self._heard > self.TRUST_FOR:
            return False
        changes = self._changes  # read before the counters: every change moves it after them
        if entry.checked == changes:
            return True  # nothing at all was counted since the entry was last found unchanged
        if noted != (self._era, *map(self._counters.get, entry.names, _ZEROS)):
            return False
        entry.checked = changes
        return True

    # -- what invalidation calls
    def bump(self, name: str) -> None:
        """Count an invalidation of table ``name`` ('' for everything)."""
        with self._lock:
            if name:
                self._counters[name] = self._counters.get(name, 0) + 1
            else:
                self._era += 1
            self._changes += 1

    # -- the thread
    def start(self) -> None:
        """Start (or, in a forked child, restart) the listener thread."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._subscribed = False
            self._era += 1
            self._changes += 1
            self._stop = stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(stop,), name="cacheops-listener", daemon=True)
        thread.start()

    def restart(self) -> None:
        """Stop listening (the client changed); the next fast-mode read starts a new listener."""
        with self._lock:
            if self._stop is not None:
                self._stop.set()
            self._subscribed = False
            self._era += 1
            self._changes += 1
            self._pid = 0

    def forked(self) -> None:
        """In a forked child (``os.register_at_fork``): no listener thread runs here, so nothing
        is trusted until the child's own listener is subscribed (the next fast-mode read starts it)."""
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._subscribed = False
        self._era += 1
        self._changes += 1
        self._pid = 0
        self._stop = None

    def _run(self, stop: threading.Event) -> None:
        delay = 0.05
        lost = ""  # why the connection was lost, until the listener is subscribed again
        while not stop.is_set():
            pubsub = None
            try:
                pubsub = get_client().pubsub()
                pubsub.subscribe(CHANNEL)
                last_ping = 0.0
                heard = time.monotonic()  # (re)connected: silence counts from now
                while not stop.is_set():
                    now = time.monotonic()
                    if now - last_ping >= self.PING_EVERY:
                        pubsub.ping()
                        last_ping = now
                    message = pubsub.get_message(timeout=self.PING_EVERY / 2)
                    if message is not None:
                        heard = self._heard = time.monotonic()
                        self._receive(message, stop)
                        delay = 0.05
                        if lost and message.get("type") == "subscribe":
                            logger.info(
                                "cacheops fast-mode listener is listening again (it lost Redis: %s)", lost
                            )
                            lost = ""
                    elif time.monotonic() - heard > self.RECONNECT_AFTER:
                        raise TimeoutError("no reply from Redis to the listener's pings")
            except Exception as e:  # Redis unreachable or the connection broke: reconnect below
                if not lost:  # once per outage, not at every attempt to reconnect
                    logger.warning(
                        "cacheops fast-mode listener lost Redis (%s: %s); until it listens again, "
                        "fast-mode copies are checked against Redis on every read",
                        type(e).__name__,
                        e,
                    )
                lost = f"{type(e).__name__}: {e}"
                logger.debug("cacheops fast-mode listener reconnects in %.2f s", delay)
            finally:
                with self._lock:
                    if self._stop is stop:
                        self._subscribed = False
                        self._era += 1
                        self._changes += 1
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        logger.debug(
                            "closing the fast-mode listener's broken connection failed", exc_info=True
                        )
            stop.wait(delay)
            delay = min(delay * 2, 2.0)

    def _receive(self, message: dict, stop: threading.Event) -> None:
        kind = message.get("type")
        if kind == "message":
            data = message["data"]
            self.bump(data.decode() if isinstance(data, bytes) else str(data))
        elif kind == "subscribe":
            with self._lock:
                if self._stop is stop:
                    self._era += 1  # copies made before now may have missed messages
                    self._changes += 1
                    self._subscribed = True


listener = Listener()
on_client_reset(listener.restart)  # it listens through the client reset_client() forgets
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=listener.forked)  # the parent's thread does not listen here


def counter_names(tables: Any) -> list[str]:
    """The listener's counters for ``tables`` (per table name: a write under any prefix counts)."""
    return sorted(set(tables))


def _heard_here(sender: Any, obj_dict: Any = None, **kwargs: Any) -> None:
    """This process invalidated: count it at once (the message from Redis follows)."""
    if sender is None:
        listener.bump("")
        return
    concrete = sender._meta.concrete_model
    for model in (concrete, *concrete._meta.get_parent_list()):
        listener.bump(model._meta.db_table)


def install_fast() -> None:
    """Count this process' own invalidations synchronously (from ``AppConfig.ready()``)."""
    cache_invalidated.connect(_heard_here, dispatch_uid="cacheops.memory.heard_here")


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

    def forked(self) -> None:
        """In a forked child (``os.register_at_fork``): another thread may have held the lock at
        the fork, and no thread of the child would ever release it."""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)


local_cache = LocalCache()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=local_cache.forked)


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


def _push_checked() -> bool:
    """Whether hits are checked against the listener's counters (CACHEOPS_LOCAL_CHECK='push')."""
    return settings.CACHEOPS_LOCAL_CHECK != "stamps"


def _trusted(entry: Entry) -> bool:
    """Whether the entry is valid by the listener's counters alone (no round trip)."""
    return entry.expires > time.monotonic() and listener.trusts(entry)


def trusted_copy(prefix: str, key: str) -> Any:
    """A copy of the result in memory when the listener's counters vouch for it, else MISSING."""
    entry = local_cache.lookup(prefix, key)  # expired entries are not found
    if entry is None or not listener.trusts(entry):
        return MISSING
    return fresh_copy(entry.value)


def _noted(names: list[str]) -> tuple | None:
    """The listener's counters of ``names`` now (None: not checked by them), to note before a read."""
    return listener.counts(names) if _push_checked() else None


def _revalidated(prefix: str, key: str, entry: Entry, stamps: list[Any], noted: tuple | None) -> Any:
    """A copy of the entry when the stamps just read from Redis are the ones it was read under
    (then trusted by the counters ``noted`` before they were read); else MISSING, the entry dropped."""
    if stamps == entry.stamps and entry.expires > time.monotonic():
        if noted is not None:
            entry.counts = noted  # valid as of before the stamps were read: trusted from now on
            entry.checked = -1
        return fresh_copy(entry.value)
    local_cache.discard(prefix, key)
    return MISSING


def _queue_read(pipe: Any, prefix: str, key: str, tables: Any, script: Any = None) -> tuple[list[str], Any]:
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


def _remember_read(
    prefix: str, key: str, keys: list[str], replies: list[Any], names: list[str], noted: tuple | None
) -> Any:
    """The value read by :func:`_queue_read` (a copy), kept in memory; MISSING when not cached.
    ``noted``: the listener's counters of ``names`` taken before the read was sent."""
    _, stamps, data, pttl = replies
    if data is None or data is False:
        return MISSING
    value = loads(data)
    if pttl is not None and pttl > 0:
        expires = time.monotonic() + pttl / 1000
        local_cache.put(prefix, key, Entry(kept_copy(value), keys, stamps, expires, names, noted))
    return value


def fast_get_or_compute(
    prefix: str,
    key: str,
    compute: Callable[[], Any],
    dnfs: Callable[[], dict[str, list[dict[str, str]]]],
    timeout: int,
    lock: bool = False,
    storable: Callable[[], bool] | None = None,
) -> tuple[Any, bool]:
    """``(value, hit)`` like :func:`cacheops.store.get_or_compute`, served from process memory
    while no invalidation of the tables the result reads was heard of (or, without the listener,
    while their stamps in Redis are unchanged)."""
    entry = local_cache.lookup(prefix, key)
    if entry is not None and _trusted(entry):
        return fresh_copy(entry.value), True
    try:
        client = get_client()  # sends missed invalidations first: may fail while Redis is down
        if entry is not None:
            noted = _noted(entry.names)
            value = _revalidated(prefix, key, entry, client.mget(entry.stamp_keys), noted)
            if value is not MISSING:
                return value, True
        conditions = dnfs()
        names = counter_names(conditions)
        noted = _noted(names)
        # a cluster pipeline refuses MGET and EVALSHA: there the same calls go one by one
        pipe = OneByOne(client) if is_cluster() else client.pipeline(transaction=False)
        script = load_script("read_insideout") if settings.CACHEOPS_INSIDEOUT else None
        keys, _ = _queue_read(pipe, prefix, key, conditions, script)
        pipe.pttl(prefix + key)
        replies = pipe.execute()
    except FAILURES as e:
        degrade(e)
        return compute(), False
    value = _remember_read(prefix, key, keys, replies, names, noted)
    if value is not MISSING:
        return value, True
    if lock:  # the dog-pile lock lives in the classic path
        return get_or_compute(
            prefix, key, compute, lambda: conditions, timeout=timeout, lock=True, storable=storable
        )
    stamps = replies[1]
    # the stamps read before the database is: the race guard of store.write() checks them
    epochs = [[k, (v or b"").decode()] for k, v in zip(keys, stamps)]
    result = compute()
    if (storable is None or storable()) and write(prefix, key, result, conditions, timeout, epochs):
        expires = time.monotonic() + timeout
        local_cache.put(prefix, key, Entry(kept_copy(result), keys, stamps, expires, names, noted))
    return result, False


async def aread(prefix: str, key: str, dnfs: Callable[[], dict[str, list[dict[str, str]]]]) -> Any:
    """A hit read in the running event loop, as :func:`fast_get_or_compute` reads one: the copy in
    memory while it is valid, else the Redis payload (remembered in memory with what it depends
    on, noted just before it was read); MISSING on a miss (the caller computes and stores) and
    when Redis fails and degrading is on."""
    entry = local_cache.lookup(prefix, key)
    if entry is not None and _trusted(entry):
        return fresh_copy(entry.value)
    try:
        if entry is not None:
            noted = _noted(entry.names)
            value = _revalidated(prefix, key, entry, await acall("MGET", *entry.stamp_keys), noted)
            if value is not MISSING:
                return value
        conditions = dnfs()
        names = counter_names(conditions)
        noted = _noted(names)
        pipe = get_async_client().pipeline(transaction=False)
        script = ascript("read_insideout") if settings.CACHEOPS_INSIDEOUT else None
        keys, queued = _queue_read(pipe, prefix, key, conditions, script)
        if queued is not None:
            await queued  # an asyncio script queues itself on the pipeline when awaited
        pipe.pttl(prefix + key)
        replies = await pipe.execute()
    except FAILURES as e:
        degrade(e)
        return MISSING
    return _remember_read(prefix, key, keys, replies, names, noted)
