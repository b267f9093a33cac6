"""The ``SYNCHRO_*`` settings, read in one place, lazily, with defaults.

Every attribute of :data:`synchro_settings` reads ``django.conf.settings`` on
access, so ``override_settings`` works; only the parsed model list is cached and
that cache is dropped whenever a ``SYNCHRO_*`` setting changes.

As in django-synchro 0.7, the module itself exposes ``REMOTE`` (the alias),
``MODELS`` (the watched model classes), ``LOCAL``, ``ALLOW_RESET`` and ``DEBUG``, and
loading (or reloading) it with a ``SYNCHRO_REMOTE`` that is not in ``DATABASES``
raises ``ImproperlyConfigured``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.utils.module_loading import import_string

CONFLICT_POLICIES = ("newer_wins", "local_wins", "remote_wins")
_UNSET = object()


class SynchroSettings:
    """Lazy view of the ``SYNCHRO_*`` settings (see the README for each one)."""

    def __init__(self) -> None:
        self._models_cache: tuple[type[models.Model], ...] | None = None
        self._labels_cache: dict[type[models.Model], str] | None = None

    @property
    def REMOTE_CONFIGURED(self) -> bool:
        return hasattr(settings, "SYNCHRO_REMOTE")

    @property
    def REMOTE(self) -> str | None:
        return getattr(settings, "SYNCHRO_REMOTE", None)

    @property
    def LOCAL(self) -> str:
        return getattr(settings, "SYNCHRO_LOCAL", "default")

    @property
    def ALLOW_RESET(self) -> bool:
        return bool(getattr(settings, "SYNCHRO_ALLOW_RESET", True))

    @property
    def DEBUG(self) -> bool:
        return bool(getattr(settings, "SYNCHRO_DEBUG", False))

    @property
    def BATCH_SIZE(self) -> int:
        value = getattr(settings, "SYNCHRO_BATCH_SIZE", 1000)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ImproperlyConfigured(f"SYNCHRO_BATCH_SIZE must be a positive integer, not {value!r}")
        return value

    @property
    def KEEP_LOGS(self) -> datetime.timedelta | None:
        value = getattr(settings, "SYNCHRO_KEEP_LOGS", None)
        if value is not None and not isinstance(value, datetime.timedelta):
            raise ImproperlyConfigured(
                f"SYNCHRO_KEEP_LOGS must be None or a datetime.timedelta, not {value!r}"
            )
        return value

    @property
    def LOG_DELAY(self) -> datetime.timedelta | None:
        """Only log entries at least this old are synchronized (lets in-flight transactions commit)."""
        value = getattr(settings, "SYNCHRO_LOG_DELAY", None)
        if value is not None and not isinstance(value, datetime.timedelta):
            raise ImproperlyConfigured(
                f"SYNCHRO_LOG_DELAY must be None or a datetime.timedelta, not {value!r}"
            )
        return value

    @property
    def GAP_TIMEOUT(self) -> datetime.timedelta:
        """How long a log id skipped by a synchronization is looked for again (see ``synchro.gaps``)."""
        value = getattr(settings, "SYNCHRO_GAP_TIMEOUT", datetime.timedelta(days=1))
        if not isinstance(value, datetime.timedelta) or value < datetime.timedelta(0):
            raise ImproperlyConfigured(
                f"SYNCHRO_GAP_TIMEOUT must be a datetime.timedelta of zero or more, not {value!r}"
            )
        return value

    @property
    def CONFLICT(self) -> str | Callable[..., Any]:
        """``'newer_wins'``, ``'local_wins'``, ``'remote_wins'`` or a callable."""
        value = getattr(settings, "SYNCHRO_CONFLICT", "newer_wins")
        if callable(value) or value in CONFLICT_POLICIES:
            return value
        if isinstance(value, str) and "." in value:
            try:
                return import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(f"SYNCHRO_CONFLICT={value!r} cannot be imported: {exc}") from exc
        raise ImproperlyConfigured(
            f"SYNCHRO_CONFLICT must be one of {', '.join(CONFLICT_POLICIES)}, a callable "
            f"or its dotted path, not {value!r}"
        )

    @property
    def MODELS(self) -> tuple[type[models.Model], ...]:
        """The watched model classes, parsed from ``SYNCHRO_MODELS`` (cached)."""
        if self._models_cache is None:
            self._models_cache = parse_models(getattr(settings, "SYNCHRO_MODELS", ()))
        return self._models_cache

    def is_watched(self, model: type[models.Model]) -> bool:
        """Whether changes of ``model`` are logged (cheap: a dict lookup)."""
        return self.watched_label(model) is not None

    def watched_label(self, model: type[models.Model]) -> str | None:
        """The label the log names ``model`` by when its changes are logged, else None."""
        labels = self._labels_cache
        if labels is None:
            labels = self._labels_cache = {model: model._meta.label_lower for model in self.MODELS}
        return labels.get(model)

    def reset(self) -> None:
        self._models_cache = None
        self._labels_cache = None


def _app_config(name: str):
    """App config by label or by dotted app name (``auth`` or ``django.contrib.auth``)."""
    for config in apps.get_app_configs():
        if config.label == name or config.name == name:
            return config
    raise ImproperlyConfigured(f"SYNCHRO_MODELS names {name!r}, which is not an installed app")


def _own(model: type[models.Model]) -> bool:
    return model._meta.app_label in ("synchro", "dbsettings")


def parse_models(entries: Any) -> tuple[type[models.Model], ...]:
    """Turn ``SYNCHRO_MODELS`` entries into model classes, in order, without duplicates.

    An entry is an app label, a dotted app name, or a tuple ``(app, 'Model1', 'model2')``
    whose model names are case-insensitive. Raises ``ImproperlyConfigured`` naming the bad entry.
    """
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
        raise ImproperlyConfigured(
            f"SYNCHRO_MODELS must be a list or tuple of app names or (app, model, ...) tuples, "
            f"not {entries!r}"
        )
    found: dict[type[models.Model], None] = {}
    for entry in entries:
        if isinstance(entry, str):
            for model in _app_config(entry).get_models():
                if not _own(model):
                    found[model._meta.concrete_model] = None
        elif isinstance(entry, (list, tuple)) and entry and all(isinstance(x, str) for x in entry):
            config = _app_config(entry[0])
            names = entry[1:] or [m._meta.model_name for m in config.get_models()]
            for name in names:
                try:
                    model = config.get_model(name.lower())
                except LookupError:
                    raise ImproperlyConfigured(
                        f"SYNCHRO_MODELS entry {tuple(entry)!r}: app {config.label!r} has no model {name!r}"
                    ) from None
                found[model._meta.concrete_model] = None
        else:
            raise ImproperlyConfigured(
                f"SYNCHRO_MODELS entry {entry!r} is neither an app name nor an (app, model, ...) tuple"
            )
    return tuple(found)


def check_remote() -> None:
    """Raise ``ImproperlyConfigured`` when ``SYNCHRO_REMOTE`` names a database that does not exist."""
    remote = getattr(settings, "SYNCHRO_REMOTE", None)
    if remote is not None and remote not in settings.DATABASES:
        raise ImproperlyConfigured(
            f"SYNCHRO_REMOTE names {remote!r}, which is not in DATABASES ({', '.join(settings.DATABASES)})"
        )


# One instance for the life of the process: a reload of this module (0.7's tests do that
# to re-read the settings) keeps it, so modules that imported it never hold a stale copy.
synchro_settings: SynchroSettings = globals().get("synchro_settings") or SynchroSettings()
synchro_settings.reset()

# The names django-synchro 0.7 kept as module attributes.
_MODULE_ATTRIBUTES = ("REMOTE", "MODELS", "LOCAL", "ALLOW_RESET", "DEBUG")


def __getattr__(name: str) -> Any:
    if name in _MODULE_ATTRIBUTES:
        return getattr(synchro_settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("SYNCHRO_") or setting == "INSTALLED_APPS":
        synchro_settings.reset()
        if setting == "SYNCHRO_MODELS":
            from .handlers import connect_watched

            connect_watched()


setting_changed.connect(_on_setting_changed, dispatch_uid="synchro.settings.reset")
check_remote()
