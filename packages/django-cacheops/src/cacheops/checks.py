"""System checks: a misconfigured CACHEOPS setting is reported by ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .conf import prepare_profiles, settings
from .redis import is_cluster
from .redis_settings import check_cluster


@register("cacheops")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """cacheops.E001: CACHEOPS/CACHEOPS_DEFAULTS; cacheops.E002: the other CACHEOPS_* settings;
    cacheops.E003: Redis and Sentinel both given; cacheops.E004: a cluster client without a usable node."""
    errors: list[Error] = []
    try:
        prepare_profiles()
    except ImproperlyConfigured as e:
        errors.append(
            Error(str(e), hint="See the Settings section of the cacheops README.", id="cacheops.E001")
        )
    for name in ("CACHEOPS_PREFIX", "CACHEOPS_SERIALIZER", "CACHEOPS_CLIENT_CLASS", "CACHEOPS_CLUSTER_WAIT"):
        try:
            getattr(settings, name)
        except ImproperlyConfigured as e:
            errors.append(Error(str(e), id="cacheops.E002"))
    if settings.CACHEOPS_REDIS and settings.CACHEOPS_SENTINEL:
        errors.append(
            Error("Specify only one of CACHEOPS_REDIS and CACHEOPS_SENTINEL, not both", id="cacheops.E003")
        )
    try:
        if is_cluster():
            check_cluster(settings.CACHEOPS_REDIS, settings.CACHEOPS_SENTINEL)
    except ImproperlyConfigured as e:
        errors.append(Error(str(e), hint="See the Redis Cluster section of the README.", id="cacheops.E004"))
    return errors
