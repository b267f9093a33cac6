#!/usr/bin/env python
"""The shop's manage.py: picks the data folder, starts a private Redis without REDIS_URL (shop/runtime.py)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from shop.runtime import prepare

    prepare(sys.argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
