"""synchro's app config, and one for django-dbsettings that matches its shipped migration."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SynchroConfig(AppConfig):
    name = "synchro"
    verbose_name = _("Synchronization")
    default_auto_field = "django.db.models.BigAutoField"
    default = True

    def ready(self) -> None:
        from . import checks, handlers

        checks.register()
        handlers.install()


class DbsettingsConfig(AppConfig):
    """django-dbsettings with the primary key type of its migration (``AutoField``).

    django-dbsettings ships no app config, so its model takes the project's
    ``DEFAULT_AUTO_FIELD``; with ``BigAutoField`` (what ``startproject`` writes)
    ``makemigrations --check`` then wants a migration for dbsettings. List
    ``"synchro.apps.DbsettingsConfig"`` in ``INSTALLED_APPS`` instead of ``"dbsettings"``.
    """

    name = "dbsettings"
    default_auto_field = "django.db.models.AutoField"
    default = False
