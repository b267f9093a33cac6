from __future__ import annotations

from django.apps import AppConfig


class DiffappConfig(AppConfig):
    name = "tests.diffapp"
    label = "diffapp"
    default_auto_field = "django.db.models.AutoField"
