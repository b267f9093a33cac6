"""Transactions: no caching of dirty reads, invalidation deferred to the outermost commit.

Both facts are kept as entries in Django's own ``connection.run_on_commit`` list, so
Django's savepoint bookkeeping applies to them: a rolled back savepoint drops what was
queued inside it, a full rollback drops everything, and a commit runs our entries
(placed before every user callback) then the user's ``on_commit`` callbacks. When one of our
entries fails at commit (Redis unreachable with ``CACHEOPS_DEGRADE_ON_FAILURE`` off), the user's
callbacks still run, and the failure is raised once they all have.

Reads inside a transaction whose isolation gives it a snapshot (``REPEATABLE READ`` or
``SERIALIZABLE``, SQLite in WAL mode) may come from before a write that another process
committed and invalidated; such results are read from the cache but never stored.

:func:`ignore_enclosing_transactions` makes cacheops treat the atomic blocks open when it is
entered as committed (Django's ``TestCase`` wraps every test in such blocks).
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.transaction import Atomic, get_connection

from .statements import is_sql_dirty, sets_snapshot

__all__ = [
    "ignore_enclosing_transactions",
    "in_transaction",
    "install_cacheops_transaction_support",
    "is_dirty",
    "is_sql_dirty",
    "queue_when_in_transaction",
]

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------ which blocks count

_ignored = threading.local()  # .bases: {alias: number of enclosing atomic blocks to ignore}


def _bases() -> dict[str, int] | None:
    return getattr(_ignored, "bases", None)


def _open(connection: Any) -> bool:
    """Whether cacheops regards a transaction as open on ``connection``."""
    if not connection.in_atomic_block:
        # transaction.set_autocommit(False): the user's own transaction, until commit()
        return connection.__dict__.get(_MANUAL, False) and not connection.autocommit
    bases = _bases()
    if not bases:
        return True
    base = bases.get(connection.alias)
    return base is None or len(connection.atomic_blocks) > base


def in_transaction(using: str) -> bool:
    """Whether a transaction (that cacheops doesn't ignore) is open on ``using``."""
    return _blocks_open > 0 and _open(connections[using])


# ------------------------------------------------------------------ are any blocks open at all
#
# Reads ask whether their database is in a dirty transaction on every cache hit; Django's
# per-thread connection lookup costs more than the rest of a fast-mode hit's checks.  So every
# Atomic.__enter__/__exit__ is counted (in every thread): while no block is open anywhere, no
# connection is in an atomic block, and the answer is known without looking one up.  The count
# never falls below the blocks open (it may stay above: a block whose __enter__ failed after
# leaving its connection in an atomic block stays counted until the process ends).

_blocks_open = 0
_count_lock = threading.Lock()


def _count_block(step: int) -> None:
    global _blocks_open
    with _count_lock:
        _blocks_open += step


def _forked() -> None:
    """In a forked child: another thread may have held the lock at the fork (the count may stay
    above the blocks open here, never below)."""
    global _count_lock
    _count_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forked)


def any_block_open() -> bool:
    """False when no atomic block is open on any connection, in any thread (then no transaction is
    open, dirty or reading a snapshot); True when one may be."""
    return _blocks_open > 0


# The same count per context: asgiref's async_to_sync() runs a coroutine in a copy of the calling
# thread's context, so a coroutine started inside atomic() sees the blocks its caller opened,
# while the event loop's own database connection (a different one) is in none of them.
_context_blocks: ContextVar[int] = ContextVar("cacheops_atomic_blocks", default=0)


def _count_context_block(step: int) -> None:
    _context_blocks.set(max(0, _context_blocks.get() + step))


def block_open_in_context() -> bool:
    """Whether an atomic block opened in this context (or in the synchronous caller whose context a
    coroutine runs in) is open: the reads of an event loop can't see that transaction through the
    loop's own connection, so they must leave the read to Django's thread-sensitive fallback."""
    return _blocks_open > 0 and _context_blocks.get() > 0


# ------------------------------------------------------------------ entries in run_on_commit


def _mark_dirty() -> None:
    """Marker entry in run_on_commit: the transaction (or savepoint) has written."""


def _mark_snapshot() -> None:
    """Marker entry in run_on_commit: the transaction set a snapshot isolation level."""


_mark_dirty._cacheops = True  # type: ignore[attr-defined]
_mark_snapshot._cacheops = True  # type: ignore[attr-defined]
_MARKERS = (_mark_dirty, _mark_snapshot)

_commit = threading.local()  # .errors: failures of our entries while Django runs commit hooks


def _hook(func: Callable[[], Any]) -> Callable[[], Any]:
    """``func`` as an entry of ours: while Django runs the commit hooks, a failure is kept (and
    raised once every hook, the user's included, has run) instead of stopping the others."""

    def run() -> None:
        errors = getattr(_commit, "errors", None)
        if errors is None:
            func()
            return
        try:
            func()
        except Exception as e:
            errors.append(e)

    run._cacheops = True  # type: ignore[attr-defined]
    return run


def _mark(connection: Any, marker: Callable[[], None]) -> None:
    hooks = connection.run_on_commit
    sids = set(connection.savepoint_ids)
    for entry in hooks:
        if entry[1] is marker and entry[0] == sids:
            return
    hooks.insert(0, (sids, marker, False))


def mark_dirty(using: str) -> None:
    """Remember that the current transaction on ``using`` has written."""
    if not _blocks_open:
        return
    connection = connections[using]
    if _open(connection):
        _mark(connection, _mark_dirty)


def is_dirty(using: str) -> bool:
    """Whether reads on ``using`` may see uncommitted writes of this transaction."""
    if not _blocks_open:
        return False
    connection = connections[using]
    if not _open(connection):
        return False
    return any(entry[1] is _mark_dirty for entry in connection.run_on_commit)


def may_store(using: str) -> bool:
    """Whether a result just read on ``using`` may be stored: not when it may come from a
    transaction's snapshot, older than the invalidations that cacheops has seen."""
    if not _blocks_open:
        return True
    connection = connections[using]
    if not _open(connection):
        return True
    return not _snapshot_isolation(connection)


def _snapshot_isolation(connection: Any) -> bool:
    """Whether the open transaction on ``connection`` reads from a snapshot taken at its start."""
    if any(entry[1] is _mark_snapshot for entry in connection.run_on_commit):
        return True
    vendor = connection.vendor
    level = getattr(connection, "isolation_level", None)
    if vendor == "postgresql":  # django.db.backends.postgresql.psycopg_any.IsolationLevel
        return getattr(level, "name", "") in ("REPEATABLE_READ", "SERIALIZABLE")
    if vendor == "mysql":  # Django's default is "read committed"; None leaves the server's
        return level is None or str(level).lower() in ("repeatable read", "serializable")
    if vendor == "sqlite":
        return _sqlite_wal(connection)
    # Oracle: READ COMMITTED unless SET TRANSACTION (seen above) says otherwise; another backend
    # (CockroachDB is SERIALIZABLE): assume the worst
    return vendor != "oracle"


def _sqlite_wal(connection: Any) -> bool:
    """Whether the SQLite database is in WAL mode (read transactions then see a snapshot)."""
    raw = connection.connection
    if raw is None:
        return False
    known = connection.__dict__.get("_cacheops_wal")
    if known is None or known[0] is not raw:
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]  # not through Django: not logged
        known = (raw, str(mode).lower() == "wal")
        connection.__dict__["_cacheops_wal"] = known
    return known[1]


def defer(using: str, func: Callable[[], Any]) -> None:
    """Run ``func`` now, or at the outermost commit on ``using`` before user on_commit callbacks;
    a rollback (of the transaction or of the savepoint it was queued in) drops it."""
    if not _blocks_open:
        func()
        return
    connection = connections[using]
    if not _open(connection):
        func()
        return
    hooks = connection.run_on_commit
    position = 0
    while position < len(hooks) and getattr(hooks[position][1], "_cacheops", False):
        position += 1
    hooks.insert(position, (set(connection.savepoint_ids), _hook(func), False))  # type: ignore[arg-type]
    _mark(connection, _mark_dirty)


def queue_when_in_transaction(func: F) -> F:
    """Decorate a function taking a ``using`` argument (the database alias, default
    ``'default'``): called inside a transaction on that database, it runs at the outermost
    commit (before the ``on_commit`` callbacks of the user), and not at all on rollback."""
    signature = inspect.signature(func)

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        using = signature.bind(*args, **kwargs).arguments.get("using") or DEFAULT_DB_ALIAS
        if not in_transaction(using):
            return func(*args, **kwargs)
        defer(using, lambda: func(*args, **kwargs))
        return None

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------ ignoring enclosing blocks


def _take_ours(connection: Any) -> list[Callable[[], Any]]:
    """Remove our entries from ``connection.run_on_commit``; return the deferred ones (not markers)."""
    ours = [entry[1] for entry in connection.run_on_commit if getattr(entry[1], "_cacheops", False)]
    connection.run_on_commit = [
        entry for entry in connection.run_on_commit if not getattr(entry[1], "_cacheops", False)
    ]
    return [func for func in ours if func not in _MARKERS]


def _run_all(funcs: list[Callable[[], Any]]) -> None:
    """Run every function; raise the first failure once all have run."""
    errors: list[Exception] = []
    for func in funcs:
        try:
            func()
        except Exception as e:
            errors.append(e)
    if errors:
        raise errors[0]


@contextmanager
def ignore_enclosing_transactions(*aliases: str) -> Iterator[None]:
    """Treat the atomic blocks open now (on ``aliases``, or every database) as committed.

    Inside, cacheops invalidates at once and caches reads as it does outside any transaction,
    and an atomic block opened inside acts as an outermost one: its invalidation runs when it
    exits without error. What cacheops had queued in the enclosing blocks runs on entering.
    Meant for tests running inside Django's ``TestCase`` (whose transaction never commits);
    clear the cache between such tests (``invalidate_all()``), as their rows are rolled back.
    """
    previous = _bases()
    bases = dict(previous or {})
    pending: list[Callable[[], Any]] = []
    for alias in aliases or tuple(connections):
        connection = connections[alias]
        bases[alias] = len(connection.atomic_blocks) if connection.in_atomic_block else 0
        pending += _take_ours(connection)
    _ignored.bases = bases
    try:
        _run_all(pending)
        yield
    finally:
        _ignored.bases = previous


# ------------------------------------------------------------------ install

_installed = False


def install_cacheops_transaction_support() -> None:
    """Watch SQL run inside transactions to spot writes; keep the user's on_commit callbacks
    running when one of ours fails; end ignored blocks; follow manual transactions (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _watch_cursors()
    _collect_commit_failures()
    _end_ignored_blocks()
    _count_blocks()
    _follow_manual_transactions()


_MANUAL = "_cacheops_manual"  # on a connection: autocommit turned off by the user


def _follow_manual_transactions() -> None:
    """Patch ``set_autocommit`` and ``commit``: between ``transaction.set_autocommit(False)`` and
    ``commit()`` (or ``set_autocommit(True)``) a transaction is open outside any atomic block.
    What cacheops queues there runs at the commit; ``rollback()`` drops it (Django empties
    ``run_on_commit``). Such a connection counts as an open block (see :func:`any_block_open`)."""
    original_set_autocommit = BaseDatabaseWrapper.set_autocommit
    original_commit = BaseDatabaseWrapper.commit

    def set_autocommit(
        self: BaseDatabaseWrapper,
        autocommit: bool,
        force_begin_transaction_with_broken_autocommit: bool = False,
    ) -> None:
        forced = force_begin_transaction_with_broken_autocommit
        original_set_autocommit(self, autocommit, forced)
        manual = not autocommit and not forced  # atomic() turns autocommit off itself, with the flag
        if manual == self.__dict__.get(_MANUAL, False):
            return
        self.__dict__[_MANUAL] = manual
        _count_block(1 if manual else -1)
        _count_context_block(1 if manual else -1)  # a coroutine run meanwhile reads through here
        if not manual:  # what was left queued is committed now (or was dropped by a rollback)
            _run_all(_take_ours(self))

    def commit(self: BaseDatabaseWrapper) -> None:
        original_commit(self)
        if self.__dict__.get(_MANUAL, False) and not self.in_atomic_block:
            _run_all(_take_ours(self))

    BaseDatabaseWrapper.set_autocommit = set_autocommit  # type: ignore[method-assign]
    BaseDatabaseWrapper.commit = commit  # type: ignore[method-assign]


def _watch(db: Any, sql: Any) -> None:
    """Mark the open transaction on ``db`` dirty when ``sql`` writes, or snapshot-isolated when
    it sets a repeatable read or serializable level."""
    if not isinstance(sql, str):
        sql = str(sql)
    if is_sql_dirty(sql):
        if _open(db):
            _mark(db, _mark_dirty)
    elif sets_snapshot(sql) and _open(db):
        _mark(db, _mark_snapshot)


def _watch_cursors() -> None:
    """Patch ``CursorWrapper.execute``/``executemany`` to watch SQL run inside atomic blocks."""
    original_execute = CursorWrapper.execute
    original_executemany = CursorWrapper.executemany

    def execute(self: CursorWrapper, sql: Any, params: Any = None) -> Any:
        if self.db.in_atomic_block or self.db.__dict__.get(_MANUAL):
            _watch(self.db, sql)
        return original_execute(self, sql, params)

    def executemany(self: CursorWrapper, sql: Any, param_list: Any) -> Any:
        if self.db.in_atomic_block or self.db.__dict__.get(_MANUAL):
            _watch(self.db, sql)
        return original_executemany(self, sql, param_list)

    CursorWrapper.execute = execute  # type: ignore[method-assign]
    CursorWrapper.executemany = executemany  # type: ignore[method-assign]


def _collect_commit_failures() -> None:
    """Patch ``run_and_clear_commit_hooks``: failures of our entries (see :func:`_hook`) are
    kept while every hook runs, then the first is raised."""
    original_hooks = BaseDatabaseWrapper.run_and_clear_commit_hooks

    def run_and_clear_commit_hooks(self: BaseDatabaseWrapper) -> None:
        outer = getattr(_commit, "errors", None)
        errors: list[Exception] = []
        _commit.errors = errors
        try:
            original_hooks(self)
        finally:
            _commit.errors = outer
        if errors:
            raise errors[0]

    BaseDatabaseWrapper.run_and_clear_commit_hooks = run_and_clear_commit_hooks  # type: ignore[method-assign]


def _outermost_seen(atomic: Atomic) -> Any:
    """The connection of ``atomic`` when it is the outermost block that cacheops sees inside
    :func:`ignore_enclosing_transactions`, else None."""
    bases = _bases()
    if not bases:
        return None
    connection = get_connection(atomic.using)
    base = bases.get(connection.alias)
    if base is None or len(connection.atomic_blocks) != base + 1:
        return None
    return connection


def _end_ignored_blocks() -> None:
    """Patch ``Atomic.__exit__``: the outermost block opened inside
    :func:`ignore_enclosing_transactions` runs what cacheops queued in it when it exits
    without error ("commits"), and drops it otherwise."""
    original_exit = Atomic.__exit__

    def __exit__(self: Atomic, exc_type: Any, exc_value: Any, traceback: Any) -> Any:
        connection = _outermost_seen(self)
        if connection is None:
            return original_exit(self, exc_type, exc_value, traceback)
        committed = exc_type is None and not connection.needs_rollback
        try:
            result = original_exit(self, exc_type, exc_value, traceback)
        except BaseException:
            _take_ours(connection)
            raise
        funcs = _take_ours(connection)
        if committed:
            _run_all(funcs)
        return result

    Atomic.__exit__ = __exit__  # type: ignore[method-assign]


def _count_blocks() -> None:
    """Patch ``Atomic.__enter__``/``__exit__`` to keep :data:`_blocks_open` (see
    :func:`any_block_open`); blocks this thread opened before count too."""
    original_enter = Atomic.__enter__
    original_exit = Atomic.__exit__

    def __enter__(self: Atomic) -> Any:
        connection = get_connection(self.using)
        was_open = connection.in_atomic_block
        _count_block(1)  # before: the connection is in the block before __enter__ returns
        try:
            entered = original_enter(self)
        except BaseException:
            if was_open or not connection.in_atomic_block:  # no block left open by this one
                _count_block(-1)
            else:
                _count_context_block(1)
            raise
        _count_context_block(1)
        return entered

    def __exit__(self: Atomic, exc_type: Any, exc_value: Any, traceback: Any) -> Any:
        try:
            return original_exit(self, exc_type, exc_value, traceback)
        finally:
            _count_block(-1)
            _count_context_block(-1)

    Atomic.__enter__ = __enter__  # type: ignore[method-assign]
    Atomic.__exit__ = __exit__  # type: ignore[method-assign]
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            _count_block(max(len(connection.atomic_blocks), 1))
