"""Log changes of Django objects and synchronize them from one database to another.

Public names (``NaturalManager``, ``NaturalKeyModel``, ``DisableSynchroLog``,
``disable_synchro_log``, ``reset_synchro``, ``call_synchronize``, ...) are importable
from here; they load on first use, so importing ``synchro`` never touches the app registry.
"""

from __future__ import annotations

from typing import Any

__version__ = "1.0.0.dev0"

__all__ = [
    "Conflict",
    "DisableSynchroLog",
    "NaturalKeyModel",
    "NaturalManager",
    "Summary",
    "SyncError",
    "call_synchronize",
    "disable_synchro_log",
    "log_changes",
    "prune_logs",
    "reset_synchro",
    "retry_failed",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'synchro' has no attribute {name!r}")
