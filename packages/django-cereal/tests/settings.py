"""Django settings for the django-cereal test suite (real database, real broker, real worker)."""

from __future__ import annotations

from shared_testing.databases import databases

SECRET_KEY = "django-cereal-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_cereal", "tests.testapp"]
DATABASES = databases("default", "other")
