"""Settings for type checking only (the django-stubs plugin loads them); nothing connects."""

SECRET_KEY = "typing-example"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "dbsettings", "synchro", "branch"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    "remote": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SYNCHRO_REMOTE = "remote"
SYNCHRO_MODELS = ("branch",)
