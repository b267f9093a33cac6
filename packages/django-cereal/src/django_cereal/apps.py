"""Optional app config: add ``"django_cereal"`` to INSTALLED_APPS to get its system checks."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoCerealConfig(AppConfig):
    name = "django_cereal"
    verbose_name = "django-cereal"

    def ready(self) -> None:
        from django.core import checks

        from .checks import check_accept_content, check_settings

        checks.register(check_settings, "django_cereal")
        checks.register(check_accept_content, "django_cereal")
