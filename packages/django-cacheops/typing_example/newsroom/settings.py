"""Settings for type checking only (the django-stubs plugin loads them); nothing connects."""

SECRET_KEY = "typing-example"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "cacheops", "newsroom"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHEOPS_REDIS = "redis://127.0.0.1:6379/1"
CACHEOPS = {"newsroom.*": {"ops": "all", "timeout": 60 * 60}}
