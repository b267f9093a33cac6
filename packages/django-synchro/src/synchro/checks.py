"""System checks for the ``SYNCHRO_*`` settings (ids ``synchro.E001``... and ``synchro.W001``...)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from .settings import synchro_settings

    errors: list[checks.CheckMessage] = []
    if not synchro_settings.REMOTE_CONFIGURED:
        errors.append(
            checks.Warning(
                "SYNCHRO_REMOTE is not set: changes are logged but never synchronized.",
                hint="Set SYNCHRO_REMOTE to the alias of the database to synchronize with, "
                "or to None on a database that only logs.",
                id="synchro.W001",
            )
        )
    remote = synchro_settings.REMOTE
    if remote is not None and remote not in connections.databases:
        errors.append(
            checks.Error(
                f"SYNCHRO_REMOTE names {remote!r}, which is not in DATABASES.",
                hint=f"Add {remote!r} to DATABASES or fix SYNCHRO_REMOTE.",
                id="synchro.E001",
            )
        )
    local = synchro_settings.LOCAL
    if local not in connections.databases:
        errors.append(
            checks.Error(
                f"SYNCHRO_LOCAL names {local!r}, which is not in DATABASES.",
                hint="SYNCHRO_LOCAL defaults to 'default'; set it to an alias from DATABASES.",
                id="synchro.E009",
            )
        )
    if remote is not None and remote == local:
        errors.append(
            checks.Error(
                f"SYNCHRO_REMOTE and SYNCHRO_LOCAL are both {remote!r}.",
                hint="Synchronize with another database.",
                id="synchro.E002",
            )
        )
    try:
        watched = synchro_settings.MODELS
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(
                str(exc),
                hint="Use app labels, dotted app names or ('app', 'Model', ...) tuples.",
                id="synchro.E003",
            )
        )
        watched = ()
    for name in ("CONFLICT", "BATCH_SIZE", "KEEP_LOGS", "LOG_DELAY", "GAP_TIMEOUT"):
        try:
            getattr(synchro_settings, name)
        except ImproperlyConfigured as exc:
            errors.append(
                checks.Error(
                    str(exc),
                    hint="See the synchro README for the accepted values.",
                    id={
                        "CONFLICT": "synchro.E004",
                        "BATCH_SIZE": "synchro.E007",
                        "KEEP_LOGS": "synchro.E008",
                        "LOG_DELAY": "synchro.E010",
                        "GAP_TIMEOUT": "synchro.E011",
                    }[name],
                )
            )
    if not apps.is_installed("dbsettings"):
        errors.append(
            checks.Error(
                "synchro needs django-dbsettings, which is not in INSTALLED_APPS.",
                hint="Add 'dbsettings' to INSTALLED_APPS.",
                id="synchro.E005",
            )
        )
    for model in watched:
        field_names = {f.name for f in model._meta.get_fields()}
        for name in getattr(model, "SYNCHRO_SKIP", ()) or ():
            if name not in field_names:
                errors.append(
                    checks.Error(
                        f"{model._meta.label}.SYNCHRO_SKIP names {name!r}, which is not a field.",
                        hint="List field names only.",
                        obj=model,
                        id="synchro.E006",
                    )
                )
        if model._meta.parents:
            errors.append(
                checks.Warning(
                    f"{model._meta.label} uses multi-table inheritance, which synchro does not synchronize.",
                    hint="Watch an abstract-base or proxy-free model instead, or synchronize it yourself.",
                    obj=model,
                    id="synchro.W002",
                )
            )
    return errors


def register() -> None:
    """Register the checks once (called from ``AppConfig.ready``)."""
    checks.register(check_settings, "synchro")
