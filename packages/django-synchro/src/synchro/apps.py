from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SynchroConfig(AppConfig):
    name = "synchro"
    verbose_name = _("Synchronization")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, handlers

        checks.register()
        handlers.install()
