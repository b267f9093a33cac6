"""A CACHEOPS_SERIALIZER for the tests: pickle that counts its calls."""

from __future__ import annotations

import pickle
from typing import Any

calls: list[str] = []


def dumps(value: Any) -> bytes:
    calls.append("dumps")
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    calls.append("loads")
    return pickle.loads(data)
