"""Cache statistics: hit, miss and invalidation counters per model (opt-in, ``CACHEOPS_STATS = True``).

Counting listens to the ``cache_read`` and ``cache_invalidated`` signals, connected only while the
setting is on.  Each process counts in memory and adds its counts to one Redis hash now and then
(every ``FLUSH_EVERY`` events or ``FLUSH_SECONDS`` seconds, and whenever :func:`stats` is called),
so a cache hit costs no extra round trip.  ``cacheops.stats()`` and ``manage.py cacheops_stats``
read the totals of all processes; counts a process has not flushed yet show up later.
``invalidate_all()`` empties the cacheops database and with it the counters.

Querysets are counted under their model's label (``'app.model'``), ``@cached``/``@cached_as``
functions and cached views under ``'func:<module>.<qualname>'``, ``invalidate_all()`` under ``'*'``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed

if TYPE_CHECKING:
    from django.db.models import Model

from .conf import settings
from .redis import get_client, handle_connection_failure, is_cluster
from .signals import cache_invalidated, cache_read

__all__ = ["EVENTS", "STATS_KEY", "install_stats", "reset_stats", "stats"]

STATS_KEY = "cacheops:stats"
EVENTS = ("hits", "misses", "invalidations")
FLUSH_EVERY = 500
FLUSH_SECONDS = 1.0


def _enabled() -> bool:
    return bool(getattr(settings, "CACHEOPS_STATS", False))


def _label(model: Any) -> str:
    meta = getattr(model, "_meta", None)
    return meta.label_lower if meta is not None else str(model)


class _Recorder:
    """Counts in memory and adds the counts to Redis in batches (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._pending = 0
        self._last_flush = time.monotonic()

    def add(self, label: str, event: str) -> None:
        with self._lock:
            self._counts[f"{label}|{event}"] += 1
            self._pending += 1
            due = self._pending >= FLUSH_EVERY or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if due:
            self.flush()

    def take(self) -> Counter[str]:
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._pending = 0
            self._last_flush = time.monotonic()
        return counts

    def flush(self) -> None:
        counts = self.take()
        if counts:
            _store(counts)


# KEYS[1]: the stats hash; ARGV: field, increment, field, increment, ...
_HINCRBY_ALL = """
for i = 1, #ARGV, 2 do
    redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""


@handle_connection_failure()
def _store(counts: Counter[str]) -> None:
    if is_cluster():  # older redis-py cluster pipelines have no MULTI/EXEC: one script instead
        args = [x for field, n in counts.items() for x in (field, n)]
        get_client().eval(_HINCRBY_ALL, 1, STATS_KEY, *args)
        return
    pipe = get_client().pipeline(transaction=True)
    for field, n in counts.items():
        pipe.hincrby(STATS_KEY, field, n)
    pipe.execute()


_recorder = _Recorder()


def _on_read(sender: Any, func: Any = None, hit: bool = False, **kwargs: Any) -> None:
    if not _enabled():
        return
    if sender is not None:
        label = _label(sender)
    elif func is not None:
        label = f"func:{func.__module__}.{func.__qualname__}"
    else:
        return
    _recorder.add(label, "hits" if hit else "misses")


def _on_invalidated(sender: Any, obj_dict: Any = None, **kwargs: Any) -> None:
    if _enabled():
        _recorder.add("*" if sender is None else _label(sender), "invalidations")


def _wire() -> None:
    """Connect the counting receivers while ``CACHEOPS_STATS`` is true and disconnect them while
    it is false, so that a read sends its signal to nobody (which costs nothing) when stats are off."""
    if _enabled():
        cache_read.connect(_on_read, dispatch_uid="cacheops.counters.read")
        cache_invalidated.connect(_on_invalidated, dispatch_uid="cacheops.counters.invalidated")
    else:
        cache_read.disconnect(dispatch_uid="cacheops.counters.read")
        cache_invalidated.disconnect(dispatch_uid="cacheops.counters.invalidated")


def _setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "CACHEOPS_STATS":
        _wire()


def install_stats() -> None:
    """Start counting (idempotent; meant for ``AppConfig.ready()``). Counts are kept only while
    ``CACHEOPS_STATS`` is true (``override_settings`` turns counting on and off)."""
    _wire()
    setting_changed.connect(_setting_changed, dispatch_uid="cacheops.counters.setting_changed")


def stats(model: type[Model] | str | None = None) -> dict[str, dict[str, int]]:
    """``{label: {'hits': n, 'misses': n, 'invalidations': n}}`` summed over all processes.

    ``model`` (a model class or an ``'app.model'`` label) narrows the result to that one label.
    This process's pending counts are flushed first.
    """
    _recorder.flush()
    raw = _read()
    result: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        field = field.decode() if isinstance(field, bytes) else field
        label, _, event = field.rpartition("|")
        if event in EVENTS:
            result.setdefault(label, dict.fromkeys(EVENTS, 0))[event] = int(value)
    if model is not None:
        wanted = model.lower() if isinstance(model, str) else _label(model)
        return {wanted: result.get(wanted, dict.fromkeys(EVENTS, 0))}
    return result


@handle_connection_failure(fallback=dict)
def _read() -> dict:
    return get_client().hgetall(STATS_KEY)


@handle_connection_failure()
def reset_stats() -> None:
    """Set every counter back to zero (this process's pending counts are dropped too)."""
    _recorder.take()
    get_client().delete(STATS_KEY)
