"""Start a real Celery worker for the shop in a child process, and stop it again."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from shop.celery import app

logger = logging.getLogger(__name__)


def worker_log() -> Path:
    """Where the worker writes its log: ``worker.log`` in the shop's data folder."""
    return Path(settings.DATA_DIR) / "worker.log"


@contextlib.contextmanager
def running_worker(timeout: float = 60) -> Iterator[subprocess.Popen[bytes]]:
    """A ``celery worker`` process for the shop, answering pings before this yields.

    Its log goes to :func:`worker_log`. Leaving the block (also through KeyboardInterrupt,
    which SIGTERM raises in manage.py) stops the worker.
    """
    command = [sys.executable, "-m", "celery", "-A", "shop", "--quiet", "worker", "--pool", "solo",
               "--loglevel", "INFO", "--without-mingle", "--without-gossip"]  # fmt: skip
    log = open(worker_log(), "ab")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, cwd=Path(settings.BASE_DIR), stdout=log, stderr=subprocess.STDOUT)
    logger.info("started a Celery worker (pid %s), log: %s", process.pid, worker_log())
    try:
        deadline = time.monotonic() + timeout
        while not app.control.ping(timeout=0.5):
            if process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited with status {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not answer a ping within {timeout}s")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        logger.info("stopped the Celery worker (pid %s)", process.pid)
