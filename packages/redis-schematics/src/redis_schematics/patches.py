"""``patch_json()``: the global JSON switch documented by redis-schematics 0.3.1."""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["patch_json"]

_lock = threading.Lock()


def patch_json() -> None:
    """Make every ``json.dumps`` in the process encode objects that have a ``__json__()`` method
    (every stored model) as what that method returns.

    This is a **global** change: it replaces ``json.JSONEncoder.default`` for the whole
    interpreter, including libraries that never asked for it. Calling it again changes nothing.
    To encode models in one place only, use :class:`redis_schematics.encoders.ModelJSONEncoder`
    (``json.dumps(obj, cls=ModelJSONEncoder)``) or
    :func:`redis_schematics.encoders.model_json_default` (``default=``).
    """
    with _lock:
        current = json.JSONEncoder.default
        if getattr(current, "_redis_schematics_patch", False):
            return

        def default(self: json.JSONEncoder, o: Any) -> Any:
            to_json = getattr(type(o), "__json__", None)
            if to_json is None:
                return current(self, o)
            return to_json(o)

        default._redis_schematics_patch = True  # type: ignore[attr-defined]
        json.JSONEncoder.default = default  # type: ignore[method-assign]
