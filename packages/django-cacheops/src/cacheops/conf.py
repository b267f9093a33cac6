"""Settings of cacheops, read in one place, lazily, with defaults.

``settings.CACHEOPS_*`` values are looked up on first use and cached; Django's
``setting_changed`` signal (sent by ``override_settings``) drops the cached value
and the derived profiles, so tests can change any setting. Other modules hear of a change
through ``on_change`` (this module imports no other part of cacheops).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import Any

from django.conf import settings as base_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

ALL_OPS = frozenset({"get", "fetch", "count", "aggregate", "exists"})


class Defaults:
    CACHEOPS_ENABLED = True
    CACHEOPS_REDIS: dict | str = {}
    CACHEOPS_SENTINEL: dict = {}
    CACHEOPS_CLIENT_CLASS: str | type | None = None
    CACHEOPS_DEFAULTS: dict = {}
    CACHEOPS: dict = {}
    CACHEOPS_PREFIX: str | Callable | None = None
    CACHEOPS_INSIDEOUT = False
    CACHEOPS_LRU = False
    CACHEOPS_DEGRADE_ON_FAILURE = False
    CACHEOPS_SERIALIZER: str | Any = "pickle"
    CACHEOPS_SKIP_FIELDS: tuple = ("FileField", "TextField", "BinaryField", "JSONField", "ArrayField")
    CACHEOPS_LONG_DISJUNCTION = 8
    CACHEOPS_LOCK_TIMEOUT: float = 60.0
    CACHEOPS_STATS = False
    CACHEOPS_INVALIDATE_BULK = False
    CACHEOPS_LOCAL_MAX_ENTRIES = 1000
    CACHEOPS_LOCAL_CHECK = "push"  # or "stamps": one MGET of table stamps per fast-mode hit
    CACHEOPS_CLUSTER_SHARDS = 16  # hash tags cacheops' keys are spread over on a Redis Cluster
    # on a cluster: "auto" (WAIT 1 on nodes with replicas), (replicas, ms), or None/False (no WAIT)
    CACHEOPS_CLUSTER_WAIT: str | tuple[int, int] | None = "auto"
    FILE_CACHE_DIR = "/tmp/cacheops_file_cache"
    FILE_CACHE_TIMEOUT = 60 * 60 * 24 * 30


class Settings:
    """Attribute access to ``CACHEOPS_*`` settings with defaults; values are cached until changed."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = getattr(base_settings, name)
        except AttributeError:
            if not hasattr(Defaults, name):
                raise
            value = getattr(Defaults, name)
        value = _convert(name, value)
        self.__dict__[name] = value
        return value


def _imported(name: str, value: Any, importer: Callable[[str], Any]) -> Any:
    """``value``, or what the dotted path ``value`` names; ImproperlyConfigured naming the setting
    when it can't be imported."""
    if not isinstance(value, str):
        return value
    try:
        return importer(value)
    except ImportError as e:
        raise ImproperlyConfigured(f"{name}: cannot import {value!r}: {e}") from e


def _prefix(value: Any) -> Any:
    if value is None:
        return None
    value = _imported("CACHEOPS_PREFIX", value, import_string)
    if not callable(value):
        raise ImproperlyConfigured("CACHEOPS_PREFIX must be a callable or a dotted path to one")
    return value


def _serializer(value: Any) -> Any:
    value = _imported("CACHEOPS_SERIALIZER", value, import_module)
    if not (hasattr(value, "dumps") and hasattr(value, "loads")):
        raise ImproperlyConfigured("CACHEOPS_SERIALIZER must have dumps() and loads()")
    return value


def _skip_fields(value: Any) -> frozenset[str]:
    """Field names, or field classes (kept by their name)."""
    return frozenset(v if isinstance(v, str) else v.__name__ for v in value)


def _convert(name: str, value: Any) -> Any:
    """A setting's value as cacheops uses it (imported, checked); ImproperlyConfigured when bad."""
    converter = _CONVERTERS.get(name)
    return value if converter is None else converter(value)


AUTO_WAIT_MS = 100  # the WAIT timeout of CACHEOPS_CLUSTER_WAIT = "auto"


def _cluster_wait(value: Any) -> str | tuple[int, int] | None:
    """``CACHEOPS_CLUSTER_WAIT`` as cacheops uses it: ``"auto"``, ``(replicas, ms)`` or None."""
    if value is None or value is False:
        return None
    if value == "auto":
        return "auto"
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and value[0] >= 1
        and value[1] >= 1
    ):
        return (value[0], value[1])
    raise ImproperlyConfigured(
        f'CACHEOPS_CLUSTER_WAIT must be "auto", a (replicas, milliseconds) tuple of integers '
        f"(replicas at least 1, milliseconds at least 1: WAIT with 0 waits forever) or None/False "
        f"to turn it off, not {value!r}"
    )


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "CACHEOPS_PREFIX": _prefix,
    "CACHEOPS_SERIALIZER": _serializer,
    "CACHEOPS_CLIENT_CLASS": lambda value: _imported("CACHEOPS_CLIENT_CLASS", value, import_string),
    "CACHEOPS_CLUSTER_WAIT": _cluster_wait,
    "CACHEOPS_SKIP_FIELDS": _skip_fields,
}

settings = Settings()


_subscribers: list[Callable[[str], None]] = []


def on_change(callback: Callable[[str], None]) -> Callable[[str], None]:
    """Have ``callback(setting)`` run after a ``CACHEOPS*`` / ``FILE_CACHE*`` setting changed.

    Modules that keep state derived from settings (remembered plans, the Redis client) subscribe
    here, so this module imports no other part of cacheops. Returns ``callback`` (usable as a
    decorator); subscribing the same callback twice keeps one subscription.
    """
    if callback not in _subscribers:
        _subscribers.append(callback)
    return callback


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CACHEOPS") or setting.startswith("FILE_CACHE"):
        settings.__dict__.pop(setting, None)
        if setting in ("CACHEOPS", "CACHEOPS_DEFAULTS", "CACHEOPS_ENABLED", "CACHEOPS_LRU"):
            prepare_profiles.cache_clear()
            model_profile.cache_clear()
        for callback in list(_subscribers):
            callback(setting)


setting_changed.connect(_reset, dispatch_uid="cacheops.conf.reset")


def _normalize_ops(ops: Any, where: str) -> frozenset[str]:
    if ops is None:
        return frozenset()
    if ops == "all" or ops == "*":
        return ALL_OPS
    if isinstance(ops, str):
        ops = [ops]
    ops = frozenset(ops)
    if "all" in ops:
        return ALL_OPS
    unknown = ops - ALL_OPS
    if unknown:
        raise ImproperlyConfigured(
            f"CACHEOPS[{where!r}]: unknown ops {sorted(unknown)}; use a subset of {sorted(ALL_OPS)} or 'all'"
        )
    return ops


_PROFILE_KEYS = {"ops", "timeout", "local_get", "local", "cache_on_save", "db_agnostic", "lock"}


@cache
def prepare_profiles() -> dict[str, dict[str, Any] | None]:
    """Parsed ``CACHEOPS`` profiles keyed by lowercased ``'app.model'`` / ``'app.*'`` / ``'*.*'``.

    Raises ImproperlyConfigured naming the setting for a malformed profile.
    """
    defaults = {"ops": (), "local_get": False, "db_agnostic": True, "lock": False, "cache_on_save": False}
    user_defaults = settings.CACHEOPS_DEFAULTS
    if not isinstance(user_defaults, dict):
        raise ImproperlyConfigured("CACHEOPS_DEFAULTS must be a dict")
    defaults.update(user_defaults)
    conf = settings.CACHEOPS
    if not isinstance(conf, dict):
        raise ImproperlyConfigured("CACHEOPS must be a dict mapping 'app.model' to a profile")
    profiles: dict[str, dict[str, Any] | None] = {}
    for label, profile in conf.items():
        if not isinstance(label, str) or label.count(".") != 1:
            raise ImproperlyConfigured(f"CACHEOPS key {label!r} must look like 'app.model', 'app.*' or '*.*'")
        if profile is None:
            profiles[label.lower()] = None
            continue
        if isinstance(profile, (tuple, list)):  # the old ('get', 900) form
            if len(profile) != 2:
                raise ImproperlyConfigured(f"CACHEOPS[{label!r}]: the tuple form is (ops, timeout)")
            profile = {"ops": profile[0], "timeout": profile[1]}
        if not isinstance(profile, dict):
            raise ImproperlyConfigured(f"CACHEOPS[{label!r}] must be a dict, a (ops, timeout) tuple or None")
        unknown = set(profile) - _PROFILE_KEYS
        if unknown:
            raise ImproperlyConfigured(f"CACHEOPS[{label!r}]: unknown options {sorted(unknown)}")
        merged = dict(defaults, **profile)
        if "timeout" not in merged or merged["timeout"] is None:
            raise ImproperlyConfigured(
                f"CACHEOPS[{label!r}]: you must specify a 'timeout' (in the profile or CACHEOPS_DEFAULTS)"
            )
        if not isinstance(merged["timeout"], (int, float)) or merged["timeout"] <= 0:
            raise ImproperlyConfigured(f"CACHEOPS[{label!r}]: 'timeout' must be a positive number")
        merged["ops"] = _normalize_ops(merged["ops"], label)
        merged["timeout"] = int(merged["timeout"])
        profiles[label.lower()] = merged
    return profiles


@cache
def model_profile(model: Any) -> dict[str, Any] | None:
    """The profile of a model, or None when it must never be cached (no profile, or a None profile)."""
    if model._meta.app_label == "migrations" or getattr(model, "__module__", "") == "__fake__":
        return None
    profiles = prepare_profiles()
    app = model._meta.app_label.lower()
    name = model._meta.model_name
    for label in (f"{app}.{name}", f"{app}.*", "*.*"):
        if label in profiles:
            profile = profiles[label]
            if profile is None:
                return None
            return dict(profile, name=label)
    return None
