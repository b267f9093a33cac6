"""A database router for the multi-db tests: testapp.Category lives in the 'slave' database."""

from __future__ import annotations

from typing import Any


class CategoryToSlave:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return "slave" if model._meta.model_name == "category" else None

    db_for_write = db_for_read
