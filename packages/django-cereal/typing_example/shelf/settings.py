"""Settings for the type checkers' Django plugin only; nothing runs this app."""

SECRET_KEY = "typing-example"
INSTALLED_APPS = ["django_cereal", "shelf"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DJANGO_CEREAL_ALLOWED_MODELS = ["shelf"]
