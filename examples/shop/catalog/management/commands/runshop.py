"""``manage.py runshop``: the shop to click through, with its Celery worker and Redis.

Migrates both databases, creates the ``admin`` user (password ``admin``) and the sample
catalog when missing, starts a worker and serves the site with runserver until interrupted.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from catalog.models import Product
from catalog.sample import stock_catalog
from catalog.worker import running_worker


class Command(BaseCommand):
    help = "Serve the demo shop with a Celery worker (admin/admin is created for the admin pages)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options) -> None:
        for alias in ("default", "branch"):
            call_command("migrate", database=alias, verbosity=0)
        users = get_user_model().objects
        if not users.filter(username="admin").exists():
            users.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("created the superuser admin (password: admin)")
        if not Product.objects.exists():
            stock_catalog()
            self.stdout.write("stocked the sample catalog")
        with running_worker():
            call_command("runserver", addrport, use_reloader=False)
