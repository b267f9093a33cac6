"""How cacheops reaches Redis, read from ``CACHEOPS_REDIS`` and ``CACHEOPS_SENTINEL`` in one place
for the synchronous client (:mod:`cacheops.redis`), each event loop's asyncio client
(:mod:`cacheops.async_redis`) and the system checks, with the error that names a wrong setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from .conf import settings

__all__ = ["SentinelOptions", "check_cluster", "connection_settings"]


def check_cluster(conf: Any, sentinel: Any) -> None:
    """Raise ImproperlyConfigured naming the setting when CACHEOPS_REDIS/CACHEOPS_SENTINEL can't
    reach a Redis Cluster (no node, a database other than 0, a unix socket, Sentinel)."""
    if sentinel:
        raise ImproperlyConfigured(
            "CACHEOPS_SENTINEL cannot be used with a cluster CACHEOPS_CLIENT_CLASS (RedisCluster); "
            "set CACHEOPS_REDIS to the URL of one cluster node instead"
        )
    if not conf:
        raise ImproperlyConfigured(
            "CACHEOPS_REDIS must name a cluster node (a redis:// URL or a dict with host and port) "
            "when CACHEOPS_CLIENT_CLASS is RedisCluster"
        )
    if isinstance(conf, str):
        if conf.startswith("unix://"):
            raise ImproperlyConfigured(
                f"CACHEOPS_REDIS URL {conf!r}: a Redis Cluster is reached over TCP, use redis:// or rediss://"
            )
        db = urlparse(conf).path.strip("/") or "0"
        if db != "0":
            raise ImproperlyConfigured(
                f"CACHEOPS_REDIS URL {conf!r}: a Redis Cluster has only database 0, not {db}"
            )
    elif isinstance(conf, dict) and int(conf.get("db", 0) or 0) != 0:
        raise ImproperlyConfigured(
            f"CACHEOPS_REDIS: a Redis Cluster has only database 0, not db={conf['db']!r}"
        )


@dataclass(frozen=True)
class SentinelOptions:
    """``CACHEOPS_SENTINEL`` read once for both clients (the synchronous one here and each event
    loop's in :mod:`cacheops.async_redis`): the sentinels, the service, the database, the
    sentinels' own connection options, and the options left for the master's connections."""

    locations: list[Any]
    service_name: str
    db: int
    sentinel_kwargs: dict[str, Any] | None
    options: dict[str, Any]

    def master(self, sentinel_class: Any, client_class: Any) -> Any:
        """A ``client_class`` client of the service's master, through ``sentinel_class``
        (``redis.sentinel.Sentinel`` or its asyncio twin)."""
        sentinels = sentinel_class(self.locations, sentinel_kwargs=self.sentinel_kwargs, **self.options)
        return sentinels.master_for(self.service_name, redis_class=client_class, db=self.db, **self.options)


def _sentinel_options(sentinel: Any) -> SentinelOptions:
    if not isinstance(sentinel, dict):
        raise ImproperlyConfigured("CACHEOPS_SENTINEL must be a dict")
    options = dict(sentinel)
    try:
        locations = options.pop("locations")
        service = options.pop("service_name")
    except KeyError as e:
        raise ImproperlyConfigured(f"CACHEOPS_SENTINEL: missing {e.args[0]!r}") from None
    db = options.pop("db", 0)
    return SentinelOptions(locations, service, db, options.pop("sentinel_kwargs", None), options)


def connection_settings(cluster: bool) -> tuple[Any, SentinelOptions | None]:
    """``(CACHEOPS_REDIS, CACHEOPS_SENTINEL read)``, checked, for the synchronous and the asyncio
    client alike: on a ``cluster`` the node to start from (without ``db``) and no sentinel; raises
    ImproperlyConfigured naming the setting that is wrong."""
    conf = settings.CACHEOPS_REDIS
    sentinel = settings.CACHEOPS_SENTINEL
    if cluster:
        check_cluster(conf, sentinel)
        if isinstance(conf, dict):
            conf = {k: v for k, v in conf.items() if k != "db"}
        return conf, None
    if conf and sentinel:
        raise ImproperlyConfigured("Specify only one of CACHEOPS_REDIS and CACHEOPS_SENTINEL, not both")
    return conf, (_sentinel_options(sentinel) if sentinel else None)
