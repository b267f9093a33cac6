"""Log changes of Django objects and synchronize them from one database to another.

Public names (``NaturalManager``, ``NaturalKeyModel``, ``DisableSynchroLog``,
``disable_synchro_log``, ``reset_synchro``, ``call_synchronize``, ...) are importable
from here; each loads on first use from the module that holds it, so importing
``synchro`` never touches the app registry. Type checkers see the real definitions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import call_synchronize, log_changes, reset_synchro, retry_failed
    from .engine import prune_logs
    from .handlers import DisableSynchroLog, disable_synchro_log
    from .natural import NaturalKeyModel, NaturalManager
    from .results import Conflict, Summary, SyncError

__version__ = "1.0.0.dev0"

# Public name -> the module that defines it.
_HOMES = {
    "Conflict": "results",
    "DisableSynchroLog": "handlers",
    "NaturalKeyModel": "natural",
    "NaturalManager": "natural",
    "Summary": "results",
    "SyncError": "results",
    "call_synchronize": "core",
    "disable_synchro_log": "handlers",
    "log_changes": "core",
    "prune_logs": "engine",
    "reset_synchro": "core",
    "retry_failed": "core",
}
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
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'synchro' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
