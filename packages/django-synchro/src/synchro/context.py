"""What every step of a synchronization needs to know about the run it belongs to."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q


@dataclass
class SyncContext:
    """One direction of one run: which database is read, which is written, and how."""

    direction: str  # "push" (LOCAL -> REMOTE) or "pull"
    source: str  # database aliases
    target: str
    source_node: str  # their identities (synchro_node)
    target_node: str
    dry_run: bool = False
    # The target's own log entries not pulled yet: a change there since is a conflict.
    unseen_target: Q = field(default_factory=Q)
    # Copies that earlier batches of this run found or made (label -> source pk -> target pk),
    # so later batches need not look them up again. A dry run also keeps here the copies it
    # would have made (placeholders), so later batches count them as there.
    copies: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def source_side(self) -> str:
        return "local" if self.direction == "push" else "remote"
