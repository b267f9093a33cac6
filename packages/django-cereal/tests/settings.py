"""Django settings for the django-cereal test suite (real database, real broker, real worker)."""

from __future__ import annotations

import django

from shared_testing.databases import databases

SECRET_KEY = "django-cereal-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_cereal", "tests.testapp"]
DATABASES = databases("default", "other")

if django.VERSION >= (6, 0):
    # django.tasks: the built-in immediate backend, and django-tasks-db's database backend with its
    # db_worker command as a real queue (tests/test_django_tasks.py).
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {
        "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
        "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    }
