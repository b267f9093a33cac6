"""Which keys each model class owns, and a warning when one class's keys nest inside another's.

A simple-layer class owns every key ``<prefix>:*`` (its scans read them all), a hash-layer class
one key (its hash) and an indexed class every key ``{<prefix>}:*``. When one class's keys fall
inside another's scanned prefix (``F`` and ``F:a``, or a simple class ``F`` and a hash ``F:h``),
the scanning class reads the other's keys on every ``all()``/``filter()``/``delete_all()`` and has
to tell them apart by content; :class:`~redis_schematics.exceptions.KeyPrefixWarning` says so when
the second class is defined. Only classes whose prefix (or hash name) is a plain string take
part: a property can give any value at run time.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from typing import NamedTuple

from .exceptions import KeyPrefixWarning

__all__ = ["KeySpace", "register"]


class KeySpace(NamedTuple):
    """``name`` is a prefix (``scanned``: the class owns every key ``<name>:*``) or one exact key;
    ``layer`` names the storage layer."""

    name: str
    scanned: bool
    layer: str

    def describe(self) -> str:
        return repr(f"{self.name}:*") if self.scanned else repr(self.name)

    def covers(self, other: KeySpace) -> bool:
        """Whether keys of ``other`` fall inside this space (a different class's)."""
        if not self.scanned:
            return False
        if other.name == self.name:  # one prefix shared by two layers (not by two classes of one)
            return other.scanned and other.layer != self.layer
        return self.name == "" or other.name.startswith(f"{self.name}:")


_lock = threading.Lock()
_spaces: weakref.WeakKeyDictionary[type, KeySpace] = weakref.WeakKeyDictionary()


def register(cls: type, space: KeySpace) -> None:
    """Record ``cls``'s key space; warn when it nests with a live class's space (a class of the
    same module and name is taken as a redefinition of ``cls`` and never counts)."""
    with _lock:
        others = [
            (other, known)
            for other, known in _spaces.items()
            if other is not cls
            and (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__)
        ]
        _spaces[cls] = space
    for other, known in others:
        if space.covers(known):
            outer, outer_space, inner, inner_space = cls, space, other, known
        elif known.covers(space):
            outer, outer_space, inner, inner_space = other, known, cls, space
        else:
            continue
        warnings.warn(
            f"{inner.__qualname__}'s keys {inner_space.describe()} nest inside the key space "
            f"{outer_space.describe()} of {outer.__qualname__}: the two classes can overwrite each "
            f"other's keys, and scans of {outer.__qualname__}'s prefix (all(), filter() and "
            f"delete_all() on the simple layer) read both; give them prefixes that do not nest",
            KeyPrefixWarning,
            stacklevel=4,
        )
