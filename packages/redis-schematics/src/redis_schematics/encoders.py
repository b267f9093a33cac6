"""JSON encoding of stored models without touching the standard library: pass
:class:`ModelJSONEncoder` as ``cls=`` or :func:`model_json_default` as ``default=`` to ``json.dumps``.
(:func:`redis_schematics.patches.patch_json` is the global switch.)"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ModelJSONEncoder", "model_json_default"]


def model_json_default(obj: Any) -> Any:
    """``default=`` hook for ``json.dumps``: the ``__json__()`` form of any object that has one.

    :raises TypeError: for other objects, as ``json.dumps`` does.
    """
    to_json = getattr(type(obj), "__json__", None)
    if to_json is None:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
    return to_json(obj)


class ModelJSONEncoder(json.JSONEncoder):
    """A ``json.JSONEncoder`` that encodes objects with a ``__json__()`` method (every stored model)
    as what that method returns: ``json.dumps(objects, cls=ModelJSONEncoder)``."""

    def default(self, o: Any) -> Any:
        to_json = getattr(type(o), "__json__", None)
        if to_json is None:
            return super().default(o)
        return to_json(o)
