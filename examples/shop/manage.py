#!/usr/bin/env python
"""The shop's manage.py. Without REDIS_URL it starts a private redis-server for the run."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from shop.servers import ensure_redis

    ensure_redis()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
