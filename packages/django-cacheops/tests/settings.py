"""Django settings for the django-cacheops test suite (real Redis, real database)."""

from __future__ import annotations

import os
import tempfile

from shared_testing.databases import databases
from shared_testing.servers import get_redis_server

SECRET_KEY = "cacheops-tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "cacheops",
    "tests.testapp",
    "tests.diffapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

DATABASES = databases("default", "slave")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": False,
        "OPTIONS": {"extensions": ["cacheops.jinja2.cache"]},
    },
]

ROOT_URLCONF = "tests.urls"

CACHEOPS_REDIS = get_redis_server().url
# the file cache of the tests lives in a private directory (tests point it at tmp_path as well)
FILE_CACHE_DIR = os.path.join(tempfile.gettempdir(), f"cacheops-tests-{os.getpid()}")
CACHEOPS_DEFAULTS = {"timeout": 60 * 60}
CACHEOPS = {
    "testapp.local": {"local_get": True},
    "testapp.cacheonsavemodel": {"ops": "get", "cache_on_save": True},
    "testapp.dbagnostic": {"ops": "all", "db_agnostic": False},
    "testapp.notcached": None,
    "testapp.*": {"ops": "all"},
    "auth.*": {"ops": ("fetch", "get")},
    "auth.permission": {"ops": "all"},
}
CACHEOPS_LRU = False
# The whole suite can be rerun in the other modes with environment switches.
CACHEOPS_INSIDEOUT = bool(os.environ.get("CACHEOPS_INSIDEOUT"))
if os.environ.get("CACHEOPS_PREFIX"):
    CACHEOPS_PREFIX = "tests.prefix.prefix"
