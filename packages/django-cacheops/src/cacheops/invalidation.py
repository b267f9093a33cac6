"""Invalidation: drop the cached results a changed row may affect.

Public: :func:`invalidate_obj`, :func:`invalidate_dict`, :func:`invalidate_model`,
:func:`invalidate_all`, and :data:`no_invalidation` (a context manager and decorator).

An invalidation that can't reach Redis (raising, or warning with ``CACHEOPS_DEGRADE_ON_FAILURE``)
is kept in the process' journal of missed invalidations (:mod:`cacheops.missed`) and sent again
as soon as Redis answers: before the next command this process sends to Redis (a read included),
and by a background thread that retries every half second up to every two seconds, so other
processes don't keep reading results cached before the outage once Redis is back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import ContextDecorator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model

from .conditions import Skip, encode
from .conf import settings
from .keys import get_prefix
from .missed import MissedInvalidations
from .redis import (
    FAILURES,
    INVALIDATION_CHANNEL,
    degrade,
    get_client,
    is_cluster,
    load_script,
    refresh_topology,
    run_in_shards,
    set_before_use,
    shard_primaries,
    shard_tags,
)
from .signals import cache_invalidated
from .store import generation_key, local_gets
from .transaction import defer

logger = logging.getLogger(__name__)

__all__ = [
    "invalidate_all",
    "invalidate_dict",
    "invalidate_model",
    "invalidate_obj",
    "no_invalidation",
]


class _NoInvalidation(ContextDecorator, threading.local):
    """Suspend invalidation in this thread (nestable); use as ``with`` or as a decorator."""

    depth = 0

    def __enter__(self) -> _NoInvalidation:
        self.depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        self.depth -= 1

    @property
    def active(self) -> bool:
        return self.depth > 0


no_invalidation = _NoInvalidation()


def _vendor(using: str) -> str:
    try:
        return connections[using].vendor
    except Exception:
        return ""


FieldSpec = tuple[str, str, str, Any, Any]  # (attname, name, column, the field's get_prep_value, field)

# model -> [(table, field specs)] of its concrete model and MTI parents; fields don't change at runtime
_table_specs_cache: dict[Any, list[tuple[str, tuple[FieldSpec, ...]]]] = {}


def _table_specs(model: Any) -> list[tuple[str, tuple[FieldSpec, ...]]]:
    """``[(table, ((attname, name, column, prepare, field), ...))]`` for the tables a row of ``model``
    lives in (its concrete model's and its MTI parents'), built once per model."""
    specs = _table_specs_cache.get(model)
    if specs is None:
        concrete = model._meta.concrete_model
        specs = [
            (
                m._meta.db_table,
                tuple(
                    (f.attname, f.name, f.column, f.get_prep_value, f) for f in m._meta.local_concrete_fields
                ),
            )
            for m in [concrete, *concrete._meta.get_parent_list()]
        ]
        _table_specs_cache[model] = specs
    return specs


def _row(specs: Iterable[FieldSpec], values: dict[str, Any], vendor: str) -> tuple[dict[str, str], bool]:
    """Encoded ``{column: value}`` for the fields present in ``values`` (keyed by attname or name),
    and whether every field was present."""
    row: dict[str, str] = {}
    complete = True
    for attname, name, column, prepare, field in specs:
        if attname in values:
            value = values[attname]
        elif name in values:
            value = values[name]
            if isinstance(value, Model):  # what the column holds: the to_field's value
                value = value.prepare_database_save(field) if field.remote_field else value.pk
        else:
            complete = False
            continue
        if hasattr(value, "resolve_expression"):  # saved as F() + 1 and the like: value unknown
            complete = False
            continue
        try:
            row[column] = encode(prepare(value), vendor)
        except Skip:  # a value conditions are never registered for (see cacheops.conditions.encode)
            continue
        except (TypeError, ValueError):  # a value the field can't prepare: can't be pinned down
            complete = False
    return row, complete


def table_rows(model: Any, values_list: list[dict[str, Any]], using: str) -> dict[str, tuple[list, bool]]:
    """``{table: (rows, complete)}`` for a model and its MTI parents; ``complete`` is False when
    some column's value is not given (the table must then be dropped as a whole). Equal rows
    (a save that changed nothing in a table) are given once."""
    vendor = _vendor(using)
    result: dict[str, tuple[list, bool]] = {}
    for table, specs in _table_specs(model):
        rows: list[dict[str, str]] = []
        complete = True
        for values in values_list:
            row, full = _row(specs, values, vendor)
            if not full:
                complete = False
            if row not in rows:
                rows.append(row)
        result[table] = (rows, complete)
    return result


def _invalidate_tables(tables: dict[str, tuple[list, bool]], using: str) -> None:
    local_gets.clear(tables)
    try:
        _apply(tables, using)
    except FAILURES as e:
        _missed_one(e, lambda: missed.record(using, tables))


def _apply(tables: dict[str, tuple[list, bool]], using: str) -> None:
    """Send the invalidation of ``tables`` (``{table: (encoded rows, complete)}``) to Redis."""
    if settings.CACHEOPS_PREFIX is None:
        prefix = get_prefix()  # the same for every database and table
    else:
        prefix = get_prefix(dbs=[using], tables=list(tables))
    name = "invalidate_insideout" if settings.CACHEOPS_INSIDEOUT else "invalidate"
    cluster = is_cluster()
    for table, (rows, complete) in tables.items():
        if not complete:
            _drop_table(prefix, table)
        elif cluster:  # every shard holds conjunctions of the table: the script runs in each
            encoded = json.dumps(rows)
            runs = [[tag + prefix, table, encoded, "quiet"] for tag in shard_tags()]
            if not run_in_shards(name, runs, settings.CACHEOPS_CLUSTER_WAIT):
                _unreplicated_one(using, table, rows)
            # once, when every shard is done (fast mode's listeners)
            get_client().publish(INVALIDATION_CHANNEL, table)
        else:
            load_script(name)(args=[prefix, table, json.dumps(rows)])


def _drop_table(prefix: str, table: str) -> None:
    """Drop everything cached for ``table``: all its conjunctions, whatever their values (in
    every shard on a cluster)."""
    client = get_client()
    if is_cluster():
        pipe = client.pipeline(transaction=False)
        for tag in shard_tags():
            pipe.incr(f"{tag}{prefix}epoch:{table}")
        pipe.execute()
        pattern = f"{{cacheops:*}}{prefix}conj:{table}:*"
    else:
        client.incr(f"{prefix}epoch:{table}")
        pattern = f"{prefix}conj:{table}:*"
    conj_keys = list(client.scan_iter(match=pattern, count=1000))
    if settings.CACHEOPS_INSIDEOUT:
        for i in range(0, len(conj_keys), 1000):
            client.delete(*conj_keys[i : i + 1000])  # split by slot on a cluster
    else:
        script = load_script("drop_conjs")
        for chunk in _by_shard(conj_keys, 500):
            script(args=chunk)
    client.publish(INVALIDATION_CHANNEL, table)  # once the entries are gone (fast mode's listeners)


def _by_shard(keys: list[Any], size: int) -> list[list[Any]]:
    """``keys`` in chunks of at most ``size``, each in one shard (one hash tag) on a cluster."""
    groups: dict[Any, list[Any]] = {}
    if is_cluster():
        for key in keys:
            groups.setdefault(key[: key.index(b"}" if isinstance(key, bytes) else "}") + 1], []).append(key)
    else:
        groups[""] = keys
    return [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]


def _run(model: Any, values_list: list[dict[str, Any]], using: str, send: list[dict[str, Any]]) -> None:
    def run() -> None:
        if not settings.CACHEOPS_ENABLED:
            return
        _invalidate_tables(table_rows(model, values_list, using), using)
        for obj_dict in send:
            cache_invalidated.send(sender=model, obj_dict=obj_dict)

    defer(using, run)


def invalidate_dict(model: type[Model], obj_dict: dict[str, Any], using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop cached results that a row of ``model`` with these field values may appear in.

    Missing fields make the whole table's results go (they could match anything).
    Inside a transaction this waits for the outermost commit.
    """
    if no_invalidation.active:
        return
    _run(model, [obj_dict], using, [obj_dict])


def invalidate_rows(model: Any, rows: list[dict[str, Any]], using: str) -> None:
    """Invalidate for several value dicts of one model at once (e.g. a row's old and new values)."""
    if no_invalidation.active or not rows:
        return
    _run(model, rows, using, rows[-1:])


def obj_values(obj: Model) -> dict[str, Any]:
    """The attname->value dict of an instance's concrete fields (parents' included)."""
    return {f.attname: getattr(obj, f.attname, None) for f in obj._meta.concrete_fields}


def invalidate_obj(obj: Model, using: str | None = None) -> None:
    """Drop cached results that ``obj`` (with its current field values) may appear in."""
    using = using or obj._state.db or router.db_for_write(type(obj), instance=obj)
    invalidate_dict(type(obj), obj_values(obj), using=using)


def invalidate_model(model: type[Model], using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop every cached result that reads ``model``'s table (and its MTI parents' tables)."""
    if no_invalidation.active:
        return
    concrete: Any = model._meta.concrete_model
    tables = [m._meta.db_table for m in [concrete, *concrete._meta.get_parent_list()]]

    def run() -> None:
        if settings.CACHEOPS_ENABLED:
            _invalidate_tables({t: ([], False) for t in tables}, using)
            cache_invalidated.send(sender=model, obj_dict=None)

    defer(using, run)


def invalidate_all() -> None:
    """Drop everything in cacheops' Redis database (FLUSHDB), in every prefix.

    On a Redis Cluster every primary is flushed, then a new generation is set in every shard: a
    result read before the flush then fails the race guard instead of being stored."""
    if no_invalidation.active:
        return
    local_gets.clear()
    try:
        _flush()
    except FAILURES as e:
        _missed_one(e, missed.record_everything)
        return
    cache_invalidated.send(sender=None, obj_dict=None)


def _flush() -> None:
    client = get_client()
    if is_cluster():
        client.flushdb(target_nodes=client.PRIMARIES)
        generation = uuid.uuid4().hex
        client.mset_nonatomic({generation_key(tag): generation for tag in shard_tags()})
        client.publish(INVALIDATION_CHANNEL, "")
        return
    pipe = client.pipeline(transaction=True)
    pipe.flushdb()
    pipe.set(generation_key(), uuid.uuid4().hex)
    pipe.publish(INVALIDATION_CHANNEL, "")  # fast mode's listeners drop every copy they hold
    pipe.execute()


# ------------------------------------------------------------------ missed invalidations

missed = MissedInvalidations()
_hook_lock = threading.Lock()  # recording and clearing the replay hook happen under it
_replay_lock = threading.RLock()  # one replay at a time; other threads wait for it to end
_replayer: threading.Thread | None = None
_replaying = False  # set while a thread replays: the others wait for it


def _missed_one(error: Exception, record: Any) -> None:
    """Keep a failed invalidation for :func:`replay_missed`, then raise or warn."""
    with _hook_lock:
        record()
        set_before_use(_before_use)
    _start_replayer()
    degrade(error, " (the invalidation is sent again when it answers)", stacklevel=3)


# ------------------------------------------------------------------ unreplicated invalidations
#
# With CACHEOPS_CLUSTER_WAIT on a cluster (by default on the nodes that have replicas), an
# invalidation that a primary ran but no replica acknowledged in time would be lost if the primary
# died before its replica got it: it is kept here and sent again (with WAIT) every RESEND_EVERY
# seconds by the replay thread (to whoever owns the slots then: a resend that finds the primary
# gone has the client ask the cluster for its topology again), until replicas acknowledge it, or
# for UNREPLICATED_FOR seconds at most (longer than any failover).

#
# A takeover is caught sooner than that: while some wait, the replay thread asks the cluster for
# its topology every POLL_EVERY seconds, and every thread of the process looks, before using Redis,
# at the primaries the client knows for the shards (no round trip); when they changed since the
# last send, the invalidations are sent again at once, to the new primary.

unreplicated = MissedInvalidations()
RESEND_EVERY = 0.5
POLL_EVERY = 0.1
UNREPLICATED_FOR = 60.0
_unreplicated_since: float | None = None
_sent_to: tuple[str, ...] | None = None  # shard_primaries() when they were last sent


def _unreplicated_one(using: str, table: str, rows: list) -> None:
    global _unreplicated_since, _sent_to
    with _hook_lock:
        _sent_to = shard_primaries()
        set_before_use(_before_use)
        if _unreplicated_since is None:
            _unreplicated_since = time.monotonic()
            logger.warning(
                "cacheops: no replica acknowledged an invalidation of %s in time; it is sent again "
                "until one does (CACHEOPS_CLUSTER_WAIT)",
                table,
            )
        unreplicated.record(using, {table: (rows, True)})
    _start_replayer()


def _before_use() -> None:
    """Run before every use of Redis while invalidations wait to be sent again."""
    replay_missed()
    if unreplicated.pending and shard_primaries() != _sent_to:
        resend_unreplicated(if_moved=True)


def _clear_hook() -> None:
    with _hook_lock:
        if not missed.pending and not unreplicated.pending:
            set_before_use(None)


def resend_unreplicated(if_moved: bool = False) -> None:
    """Send again the invalidations no replica acknowledged (see CACHEOPS_CLUSTER_WAIT); those
    still unacknowledged are kept, unless they have waited UNREPLICATED_FOR seconds. Raises the
    connection error when the cluster doesn't answer, keeping them. ``if_moved``: only when the
    primaries of the shards changed since they were last sent."""
    global _unreplicated_since, _sent_to
    with _replay_lock:
        since = _unreplicated_since
        if if_moved and shard_primaries() == _sent_to:
            return
        _sent_to = shard_primaries()
        todo = unreplicated.take()
        if not todo:
            _clear_hook()
            return
        if since is not None and time.monotonic() - since > UNREPLICATED_FOR:
            logger.warning("cacheops: gave up waiting for replicas to acknowledge invalidations")
            _unreplicated_since = None
            _clear_hook()
            return
        try:
            for (using, table), rows in todo.tables.items():
                _apply({table: (rows or [], rows is not None)}, using)  # unacknowledged: kept again
        except BaseException:
            with _hook_lock:  # (another thread may have cleared the hook meanwhile)
                unreplicated.restore(todo)
                set_before_use(_before_use)
            raise
        if not unreplicated.pending:
            _unreplicated_since = None
            logger.info("cacheops: replicas acknowledged the invalidations sent again")
    _clear_hook()


def replay_missed() -> None:
    """Send the invalidations this process could not send, if any (run before every Redis
    command of cacheops while some wait). Raises the connection error when Redis still doesn't
    answer, keeping them."""
    global _replaying
    if not missed.pending and not _replaying:
        return
    with _replay_lock:
        todo = missed.take()  # a call made while replaying (same thread) finds nothing to do
        if not todo:
            return
        _replaying = True
        try:
            if todo.everything:
                _flush()
            else:
                for (using, table), rows in todo.tables.items():
                    _apply({table: (rows or [], rows is not None)}, using)
        except BaseException:
            with _hook_lock:  # sending some twice is harmless
                missed.restore(todo)
                set_before_use(_before_use)
            raise
        finally:
            _replaying = False
    _clear_hook()
    logger.info("cacheops sent again the invalidations it missed while Redis was unreachable")


def _start_replayer() -> None:
    global _replayer
    with _hook_lock:
        if _replayer is not None and _replayer.is_alive():
            return
        _replayer = threading.Thread(target=_replay_until_done, name="cacheops-replay", daemon=True)
        _replayer.start()


def _replay_until_done() -> None:
    delay = 0.5
    resent_at = time.monotonic()
    while missed.pending or unreplicated.pending:
        time.sleep(POLL_EVERY if unreplicated.pending else delay)
        try:
            replay_missed()
            if unreplicated.pending:
                refresh_topology()  # one CLUSTER SLOTS: has a replica taken over?
                due = time.monotonic() - resent_at >= RESEND_EVERY
                if due:
                    resent_at = time.monotonic()
                resend_unreplicated(if_moved=not due)
        except FAILURES:
            delay = min(delay * 2, 2.0)
        except Exception:  # a bug or a bad setting: keep the journal, try again later
            logger.exception("cacheops could not send the invalidations it missed")
            delay = 2.0
