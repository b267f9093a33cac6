"""Lua scripts of the hash and indexed layers, read once from ``lua/`` (after ``common.lua``)."""

from __future__ import annotations

from importlib.resources import files

from .runner import Script

__all__ = ["DELETE", "HASH_SET", "QUERY", "SAVE", "SAVE_MANY", "SWEEP"]


def _load(name: str) -> Script:
    folder = files(__package__).joinpath("lua")
    common = folder.joinpath("common.lua").read_text(encoding="utf-8")
    return Script(common + "\n" + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8"), name)


SAVE = _load("save")
SAVE_MANY = _load("save_many")
DELETE = _load("delete")
SWEEP = _load("sweep")
QUERY = _load("query")
HASH_SET = _load("hash_set")
