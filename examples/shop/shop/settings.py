"""Settings of the demo shop: two SQLite files (the shop and its branch office) and one Redis.

The data folder is ``SHOP_DATA_DIR``; manage.py sets it per command (shop/runtime.py).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SHOP_DATA_DIR", BASE_DIR / "var" / "shop"))
DATA_DIR.mkdir(parents=True, exist_ok=True)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_BASE = REDIS_URL.rsplit("/", 1)[0]

SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "dbsettings",
    "cacheops",
    "synchro",
    "catalog",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "shop.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shop (default) and its branch office (branch), each an SQLite file.
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "shop.sqlite3"},
    "branch": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "branch.sqlite3"},
}

# django-cacheops: every catalog query cached for an hour, invalidated by saves.
CACHEOPS_REDIS = f"{REDIS_BASE}/0"
# db_agnostic=False: the branch database (same tables) must not share cache entries.
CACHEOPS = {"catalog.*": {"ops": "all", "timeout": 3600, "db_agnostic": False}}

# django-cereal: tasks receive models as references, decoded by the JSON serializer.
CELERY_BROKER_URL = f"{REDIS_BASE}/1"
CELERY_RESULT_BACKEND = f"{REDIS_BASE}/2"
CELERY_TASK_SERIALIZER = "django-cereal-json"
CELERY_ACCEPT_CONTENT = ["django-cereal-json", "json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# django-synchro: the catalog goes from the shop to the branch office; newer changes win.
SYNCHRO_REMOTE = "branch"
SYNCHRO_MODELS = ["catalog"]
SYNCHRO_CONFLICT = "newer_wins"

# redis-schematics: the stock ledger lives in Redis db 3.
STOCK_REDIS_URL = f"{REDIS_BASE}/3"

# Operators' messages go to stderr through logging: the demo's and the harness' own at INFO
# (which servers start and stop, the Celery worker), the four packages' at WARNING (degraded
# Redis, refused payloads, failed syncs). The demo's narrated report is its stdout.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "shop.logs.StderrHandler", "formatter": "plain"}},
    "loggers": {
        **{name: {"handlers": ["stderr"], "level": "INFO"} for name in ("shop", "catalog", "shared_testing")},
        **{
            name: {"handlers": ["stderr"], "level": "WARNING"}
            for name in ("cacheops", "django_cereal", "synchro", "redis_schematics")
        },
    },
}
