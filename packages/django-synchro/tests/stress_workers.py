"""Targets of the processes tests/test_sync_stress.py starts (this module imports no Django
model, so a spawned process can load it before configuring Django)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def _setup(config: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    settings.configure(**config)
    django.setup()


def sync_killed_at_write(config: dict[str, Any], kwargs: dict[str, Any], kill_at: int, results) -> None:
    """Synchronize; SIGKILL this process at the ``kill_at``-th object written to REMOTE."""
    _setup(config)
    from django.db.models.signals import post_delete, post_save

    from synchro import call_synchronize

    seen = [0]

    def receiver(sender, using=None, **ignored):
        if using == "remote":
            seen[0] += 1
            if seen[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # inside the batch's transaction

    post_save.connect(receiver, weak=False)
    post_delete.connect(receiver, weak=False)
    summary = call_synchronize(**kwargs)
    results.put(("ok", summary.added))


def churn_for(config: dict[str, Any], seed: int, seconds: float, done) -> None:
    """Change LOCAL (tests.test_sync_stress.churn) for ``seconds``; put how many steps were made."""
    _setup(config)
    from tests.test_sync_stress import churn

    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        churn(seed + step, 1, tolerate_locks=True)
        step += 1
    done.put(step)
