"""What an SQL statement does to its transaction, told from its text: whether it writes, whether it
sets a snapshot isolation level (:mod:`cacheops.transaction` watches the statements run inside
transactions with these)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["is_sql_dirty", "sets_snapshot"]

_WRITE_SQL = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*(?:INSERT|UPDATE|DELETE|REPLACE|MERGE|CREATE|ALTER|DROP|TRUNCATE|COPY)\b",
    re.IGNORECASE | re.DOTALL,
)
_CTE_WRITE = re.compile(r"\)\s*(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
# SET TRANSACTION ISOLATION LEVEL ... (PostgreSQL, MySQL/MariaDB) for the current transaction
_SET_SNAPSHOT = re.compile(
    r"^\s*SET\s+TRANSACTION\s+ISOLATION\s+LEVEL\s+(?:REPEATABLE\s+READ|SERIALIZABLE)\b", re.IGNORECASE
)


def is_sql_dirty(sql: Any) -> bool:
    """Whether a statement writes. Looks at the leading keyword only, so a column called
    ``is_deleted`` or ``updated_at`` in a SELECT is not taken for a write."""
    if not isinstance(sql, str):
        sql = str(sql)
    if _WRITE_SQL.match(sql):
        return True
    stripped = sql.lstrip()
    return stripped[:4].upper() == "WITH" and bool(_CTE_WRITE.search(sql))


def sets_snapshot(sql: str) -> bool:
    """Whether a statement sets ``REPEATABLE READ`` or ``SERIALIZABLE`` for the current transaction."""
    return sql.lstrip()[:3].upper() == "SET" and bool(_SET_SNAPSHOT.match(sql))
