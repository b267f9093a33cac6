"""Synchronizations in separate, real processes that use the test databases of this process."""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

SETTINGS = (
    "INSTALLED_APPS",
    "USE_TZ",
    "TIME_ZONE",
    "CACHES",
    "DEFAULT_AUTO_FIELD",
    "SECRET_KEY",
    "SYNCHRO_REMOTE",
    "SYNCHRO_MODELS",
    "SYNCHRO_LOCAL",
    "SYNCHRO_BATCH_SIZE",
)


def settings_for_a_process() -> dict[str, Any]:
    """This process's settings, with DATABASES naming the test databases it created."""
    from django.conf import settings
    from django.db import connections

    config = {name: getattr(settings, name) for name in SETTINGS if hasattr(settings, name)}
    config["DATABASES"] = {alias: dict(connections[alias].settings_dict) for alias in settings.DATABASES}
    return config


def _sync_in_process(config, kwargs, barrier, kill_after_batches, results) -> None:
    import django
    from django.conf import settings

    settings.configure(**config)
    django.setup()
    from synchro import call_synchronize

    batches = []

    def progress(done: int, total: int) -> None:
        if done:
            batches.append(done)
        if kill_after_batches is not None and len(batches) == kill_after_batches:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash: no cleanup, no exception handlers

    if barrier is not None:
        barrier.wait(timeout=60)
    try:
        summary = call_synchronize(progress=progress, **kwargs)
    except Exception as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    else:
        results.put(("ok", summary.added))


def run_syncs(
    count: int = 1,
    *,
    together: bool = False,
    kill_after_batches: int | None = None,
    **kwargs: Any,
) -> list[tuple[Any, ...]]:
    """Run ``count`` synchronizations in fresh processes (released at once when ``together``).

    Returns one ``(outcome, detail)`` per process that finished, and ``("killed", exitcode)``
    for each one killed by ``kill_after_batches``.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count) if together else None
    results = context.Queue()
    config = settings_for_a_process()
    processes = [
        context.Process(target=_sync_in_process, args=(config, kwargs, barrier, kill_after_batches, results))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    outcomes: list[tuple[Any, ...]] = []
    for process in processes:
        if process.exitcode == -signal.SIGKILL:
            outcomes.append(("killed", process.exitcode))
        elif process.exitcode != 0:
            raise RuntimeError(f"synchronization process exited with {process.exitcode}")
    while len(outcomes) < count:
        outcomes.append(results.get(timeout=10))
    return outcomes
