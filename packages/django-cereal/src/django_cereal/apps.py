"""Optional app config: add ``"django_cereal"`` to INSTALLED_APPS to get system checks of its settings."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoCerealConfig(AppConfig):
    name = "django_cereal"
    verbose_name = "django-cereal"

    def ready(self) -> None:
        from django.core import checks

        from .checks import check_settings

        checks.register(check_settings, "django_cereal")
