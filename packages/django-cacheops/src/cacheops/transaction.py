"""Transactions: no caching of dirty reads, invalidation deferred to the outermost commit.

Both facts are kept as entries in Django's own ``connection.run_on_commit`` list, so
Django's savepoint bookkeeping applies to them: a rolled back savepoint drops what was
queued inside it, a full rollback drops everything, and a commit runs our entries
(placed before every user callback) then the user's ``on_commit`` callbacks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.backends.utils import CursorWrapper

_WRITE_SQL = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*(?:INSERT|UPDATE|DELETE|REPLACE|MERGE|CREATE|ALTER|DROP|TRUNCATE|COPY)\b",
    re.IGNORECASE | re.DOTALL,
)
_CTE_WRITE = re.compile(r"\)\s*(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def is_sql_dirty(sql: Any) -> bool:
    """Whether a statement writes. Looks at the leading keyword only, so a column called
    ``is_deleted`` or ``updated_at`` in a SELECT is not taken for a write."""
    if not isinstance(sql, str):
        sql = str(sql)
    if _WRITE_SQL.match(sql):
        return True
    stripped = sql.lstrip()
    return stripped[:4].upper() == "WITH" and bool(_CTE_WRITE.search(sql))


def _mark_dirty() -> None:
    """Marker entry in run_on_commit: the transaction (or savepoint) has written."""


def _cacheops_hook(func: Callable[[], Any]) -> Callable[[], Any]:
    func._cacheops = True  # type: ignore[attr-defined]
    return func


_mark_dirty._cacheops = True  # type: ignore[attr-defined]


def mark_dirty(using: str) -> None:
    """Remember that the current transaction on ``using`` has written."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return
    hooks = connection.run_on_commit
    sids = set(connection.savepoint_ids)
    for entry in hooks:
        if entry[1] is _mark_dirty and entry[0] == sids:
            return
    hooks.insert(0, (sids, _mark_dirty, False))  # type: ignore[arg-type]


def is_dirty(using: str) -> bool:
    """Whether reads on ``using`` may see uncommitted writes of this transaction."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return False
    return any(entry[1] is _mark_dirty for entry in connection.run_on_commit)


def in_transaction(using: str) -> bool:
    return connections[using].in_atomic_block


def defer(using: str, func: Callable[[], Any]) -> None:
    """Run ``func`` now, or at the outermost commit on ``using`` before user on_commit callbacks;
    a rollback (of the transaction or of the savepoint it was queued in) drops it."""
    connection = connections[using]
    if not connection.in_atomic_block:
        func()
        return
    hooks = connection.run_on_commit
    position = 0
    while position < len(hooks) and getattr(hooks[position][1], "_cacheops", False):
        position += 1
    hooks.insert(position, (set(connection.savepoint_ids), _cacheops_hook(func), False))  # type: ignore[arg-type]
    mark_dirty(using)


_installed = False


def install_cacheops_transaction_support() -> None:
    """Watch SQL run inside transactions to spot writes (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original_execute = CursorWrapper.execute
    original_executemany = CursorWrapper.executemany

    def execute(self: CursorWrapper, sql: Any, params: Any = None) -> Any:
        if self.db.in_atomic_block and is_sql_dirty(sql):
            mark_dirty(self.db.alias)
        return original_execute(self, sql, params)

    def executemany(self: CursorWrapper, sql: Any, param_list: Any) -> Any:
        if self.db.in_atomic_block and is_sql_dirty(sql):
            mark_dirty(self.db.alias)
        return original_executemany(self, sql, param_list)

    CursorWrapper.execute = execute  # type: ignore[method-assign]
    CursorWrapper.executemany = executemany  # type: ignore[method-assign]
