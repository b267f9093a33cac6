"""System checks for django-cereal's settings (active when ``django_cereal`` is in INSTALLED_APPS)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

from . import conf


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Report invalid ``DJANGO_CEREAL_*`` settings as ``cereal.E001`` / ``cereal.E002``."""
    errors = []
    for check_id, read, hint in (
        ("cereal.E001", conf.missing_policy, "Use 'raise', 'none' or 'skip'."),
        ("cereal.E002", conf.allowed_models, "Use None or a list such as ['books', 'billing.Invoice']."),
    ):
        try:
            read()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), hint=hint, id=check_id))
    return errors
