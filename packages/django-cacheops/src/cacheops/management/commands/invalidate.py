"""``manage.py invalidate all | app | app.model | app.model.pk [...]``."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from cacheops.invalidation import invalidate_all, invalidate_model, invalidate_obj


class Command(BaseCommand):
    help = "Invalidate cacheops' cache: everything, an app's models, a model or one object"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("targets", nargs="+", metavar="all|app|app.model|app.model.pk")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database of the rows")

    def handle(self, *targets: str, **options: Any) -> None:
        using = options["database"]
        for target in options["targets"] or targets:
            if target == "all":
                invalidate_all()
                self.stdout.write("Invalidated everything")
                continue
            parts = target.split(".", 2)
            try:
                app = apps.get_app_config(parts[0])
            except LookupError:
                raise CommandError(f"Unknown app {parts[0]!r} in {target!r}") from None
            if len(parts) == 1:
                models = list(app.get_models(include_auto_created=True))
                for model in models:
                    invalidate_model(model, using=using)
                self.stdout.write(f"Invalidated {len(models)} models of {app.label}")
                continue
            try:
                model = app.get_model(parts[1])
            except LookupError:
                raise CommandError(f"Unknown model {parts[1]!r} in app {app.label!r}") from None
            if len(parts) == 2:
                invalidate_model(model, using=using)
                self.stdout.write(f"Invalidated {model._meta.label}")
                continue
            try:
                obj = model._base_manager.using(using).nocache().get(pk=parts[2])
            except (model.DoesNotExist, ValueError):
                raise CommandError(f"No {model._meta.label} with pk {parts[2]!r}") from None
            invalidate_obj(obj, using=using)
            self.stdout.write(f"Invalidated {model._meta.label} {parts[2]}")
