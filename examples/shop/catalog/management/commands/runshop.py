"""``manage.py runshop``: the shop to click through, with its Celery worker and Redis.

Migrates both databases, creates the ``admin`` user (password ``admin``), the sample catalog
and the stock ledger when missing, starts a worker and serves the site with runserver until
Ctrl-C or SIGTERM, which stop the worker and the redis-server too (see shop/runtime.py).
Run it with ``nox -s shop`` (an environment with everything installed), or with
``python manage.py runshop`` from an environment that has the four packages and
shared-testing[embedded] installed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from catalog.models import Product
from catalog.sample import STOCK, stock_catalog
from catalog.stock import connect, fill
from catalog.worker import running_worker
from shared_testing.servers import get_redis_server

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve the demo shop with a Celery worker (admin/admin is created for the admin pages)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        for alias in ("default", "branch"):
            call_command("migrate", database=alias, verbosity=0)
        users = get_user_model().objects
        if not users.filter(username="admin").exists():
            users.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("created the superuser admin (password: admin)")
        if not Product.objects.exists():
            stock_catalog()
            self.stdout.write("stocked the sample catalog")
        if not connect().all():
            fill(STOCK)
            self.stdout.write(f"filled the stock ledger in Redis ({len(STOCK)} entries)")
        self.stdout.write(f"data: {settings.DATA_DIR} (shop.sqlite3, branch.sqlite3, worker.log)")
        self.stdout.write(f"redis: {get_redis_server().describe()}; it keeps nothing on disk")
        with running_worker() as worker:
            logger.info("serving the shop on http://%s/ (Celery worker pid %s)", addrport, worker.pid)
            call_command("runserver", addrport, use_reloader=False)
