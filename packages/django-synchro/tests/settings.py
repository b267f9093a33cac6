import os
import tempfile

from shared_testing.databases import database_vendor, databases
from tests import replay_pairs

SECRET_KEY = "synchro-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Warsaw"
DATABASES = databases("default", "remote")
if database_vendor() != "sqlite":
    # A SQLite LOCAL beside the server databases, to synchronize across engines.
    _dir = tempfile.mkdtemp(prefix="synchro-cross-")
    DATABASES["sqlite_local"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(_dir, "local.sqlite3"),
        "TEST": {"NAME": os.path.join(_dir, "test_local.sqlite3")},
    }
DATABASES.update(replay_pairs.extra_databases())  # LOCAL/REMOTE on two engines (tests/replay_pairs.py)
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "dbsettings",
    "synchro",
    "tests.testapp.apps.TestappConfig",
    "tests.replayapp.apps.ReplayappConfig",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
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
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SYNCHRO_REMOTE = "remote"
SYNCHRO_MODELS = (
    (
        "testapp",
        *("Tag", "author", "BOOK", "Event", "Person", "Club", "Item", "Egg", "Chicken"),
        *("Gadget", "Widget", "Part", "Ledger", "Course"),
    ),
    "replayapp",
)
