"""The Redis client of cacheops, built lazily from the settings, and failure handling.

``redis_client`` is a proxy: the real client is created on first use from
``CACHEOPS_REDIS`` (URL or dict of kwargs) or ``CACHEOPS_SENTINEL``, using
``CACHEOPS_CLIENT_CLASS`` when set.  When that class is ``redis.cluster.RedisCluster`` (or a
subclass) cacheops runs in cluster mode: its keys are spread over :func:`shard_tags`, hash tags
whose slots lie evenly over the slot space (so over every primary). A cached result and
everything its freshness depends on (the stamps, conjunction sets and epochs of the tables it
reads, the generation) share the shard of the result's key (:func:`placed`), so each Lua script
and multi-key command still touches a single hash slot.
With ``CACHEOPS_DEGRADE_ON_FAILURE`` every Redis call made through
:func:`handle_connection_failure` turns a connection error or timeout into a ``RuntimeWarning``
and a fallback value.

The hot commands (GET, MGET and the scripts of :mod:`cacheops.store`) travel over a
:class:`~cacheops.connections.Lane`: a few connections taken from the client's own pool and kept
by cacheops (:func:`cacheops.connections.lane_size`), so a ``max_connections`` holds exactly; when
they are all busy, or there is no lane (a ``BlockingConnectionPool``, a cluster, a tracing client
class...), through the client, its pool and redis-py ``Script`` objects.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from functools import wraps
from importlib import resources
from typing import Any, TypeVar

import redis
import redis.cluster
from django.core.exceptions import ImproperlyConfigured
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from .conf import AUTO_WAIT_MS, on_change, settings
from .connections import Lane, lane_size
from .redis_settings import connection_settings

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_client: Any = None
_lane: Lane | None = None  # the lane of _client (None: its commands go through the client)
_scripts: dict[str, Any] = {}
# run before the client or the lane is handed out while invalidations wait to be sent again
# (see cacheops.invalidation.replay_missed)
_before_use: Callable[[], None] | None = None
# run by reset_client() before the old client closes (fast mode's listener restarts through them)
_reset_callbacks: list[Callable[[], None]] = []


def set_before_use(func: Callable[[], None] | None) -> None:
    """Have ``func`` run before every use of the client (None: nothing)."""
    global _before_use
    _before_use = func


def on_client_reset(callback: Callable[[], None]) -> Callable[[], None]:
    """Have ``callback()`` run whenever ``reset_client()`` forgets the client, before the old one
    closes (for users of the client above this module, such as fast mode's listener).
    Returns ``callback``; subscribing the same callback twice keeps one subscription."""
    if callback not in _reset_callbacks:
        _reset_callbacks.append(callback)
    return callback


class CacheopsRedisError(redis.ConnectionError):
    pass


# Invalidations are published here (also in lua/invalidate*.lua); fast mode's listeners subscribe.
INVALIDATION_CHANNEL = "cacheops:invalidated"

_cluster: bool | None = None  # is_cluster(), worked out once per value of CACHEOPS_CLIENT_CLASS
_tags: list[str] = []  # shard_tags(), worked out once per value of CACHEOPS_CLUSTER_SHARDS
_tag_slots: list[int] = []  # the slot of each of _tags


def is_cluster() -> bool:
    """Whether CACHEOPS_CLIENT_CLASS is a Redis Cluster client (decided from the settings alone)."""
    global _cluster
    if _cluster is None:
        client_class = settings.CACHEOPS_CLIENT_CLASS
        _cluster = isinstance(client_class, type) and issubclass(client_class, redis.cluster.RedisCluster)
    return _cluster


def shard_tags() -> list[str]:
    """The hash tags of the ``CACHEOPS_CLUSTER_SHARDS`` shards of cacheops on a cluster.

    Shard ``s``'s tag is ``{cacheops:s.i}`` with the least ``i`` whose slot lies in the ``s``-th of
    equal windows of the slot space: the shards are evenly spread over the slots, so primaries
    holding equal slot ranges hold equal numbers of shards (within one)."""
    global _tags, _tag_slots
    count = max(1, int(settings.CACHEOPS_CLUSTER_SHARDS))
    if len(_tags) != count:
        tags = []
        for s in range(count):
            low = s * REDIS_CLUSTER_HASH_SLOTS // count
            high = (s + 1) * REDIS_CLUSTER_HASH_SLOTS // count
            i = 0
            while not low <= key_slot(f"cacheops:{s}.{i}".encode()) < high:
                i += 1
            tags.append(f"{{cacheops:{s}.{i}}}")
        _tag_slots = [key_slot(tag[1:-1].encode()) for tag in tags]
        _tags = tags
    return _tags


def placed(prefix: str, key: str) -> str:
    """``prefix`` for an entry under ``key``: on a cluster, behind the tag of the key's shard
    (unchanged when it has one already); elsewhere ``prefix`` itself."""
    if not is_cluster() or prefix.startswith("{cacheops:"):
        return prefix
    tags = shard_tags()
    return tags[zlib.crc32(key.encode()) % len(tags)] + prefix


def shard_of(prefix: str) -> str:
    """The shard tag a placed prefix begins with ('' off a cluster)."""
    return prefix[: prefix.index("}") + 1] if is_cluster() else ""


def _make_client() -> Any:
    conf, sentinel = connection_settings(is_cluster())
    client_class = settings.CACHEOPS_CLIENT_CLASS or redis.Redis
    if sentinel is not None:
        from redis.sentinel import Sentinel

        return sentinel.master(Sentinel, client_class)
    if isinstance(conf, str):
        if not conf.startswith(("redis://", "rediss://", "unix://")):
            raise ImproperlyConfigured(
                f"CACHEOPS_REDIS URL {conf!r} must start with redis://, rediss:// or unix://"
            )
        return client_class.from_url(conf)
    if not isinstance(conf, dict):
        raise ImproperlyConfigured("CACHEOPS_REDIS must be a dict of client kwargs or a redis:// URL")
    return client_class(**conf)


def get_client() -> Any:
    """The Redis client cacheops uses (created on first call, with its lane when allowed)."""
    global _client, _lane, _topology_at
    if _before_use is not None:
        _before_use()
    if _client is None:
        with _lock:
            if _client is None:
                client = _make_client()
                _topology_at = time.monotonic()
                size = lane_size(client)
                _lane = Lane(client, size) if size else None
                _client = client
    return _client


def reset_client() -> None:
    """Forget the client and close its lane (its connections go back to the pool), so the next use
    builds both from the (changed) settings."""
    global _client, _lane
    with _lock:
        old, _client = _client, None
        old_lane, _lane = _lane, None
        _scripts.clear()
        _replicated_nodes.clear()
    for callback in list(_reset_callbacks):
        callback()  # e.g. fast mode's listener, which listens through the old client
    if old_lane is not None:
        old_lane.close()
    if old is not None:
        try:
            old.close()
        except Exception:
            pass


@on_change
def _setting_changed(setting: str) -> None:
    global _cluster
    if setting in ("CACHEOPS_REDIS", "CACHEOPS_SENTINEL", "CACHEOPS_CLIENT_CLASS"):
        _cluster = None
        reset_client()


class _Proxy:
    """Forwards attribute access to the lazily created client."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_client(), name)

    def __repr__(self) -> str:
        return f"<cacheops redis_client proxy for {get_client()!r}>"


redis_client: Any = _Proxy()

# what "Redis is unreachable" looks like, a cluster's failover included (a primary is down and its
# slots not yet taken over by its replica); the cluster errors of the installed redis-py
_CLUSTER_FAILURES = (
    "ClusterDownError",
    "TryAgainError",
    "SlotNotCoveredError",
    "RedisClusterUnreachableError",
)
FAILURES: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    *(getattr(redis.exceptions, name) for name in _CLUSTER_FAILURES if hasattr(redis.exceptions, name)),
)

LOG_EVERY = 10.0  # seconds between two log records of a degraded Redis in one process
_last_logged = -LOG_EVERY


def degrade(error: Exception, note: str = "", stacklevel: int = 2) -> None:
    """Redis failed with ``error``: raise it, or with ``CACHEOPS_DEGRADE_ON_FAILURE`` warn (a
    ``RuntimeWarning``, as in 7.2) and log it for operators, at most once every ``LOG_EVERY``
    seconds (every cached read fails while Redis is down); the caller then uses the database."""
    global _last_logged
    if not settings.CACHEOPS_DEGRADE_ON_FAILURE:
        raise error
    message = f"cacheops cache is unreachable: {error}{note}"
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY:
        _last_logged = now
        logger.warning("%s; reading and writing the database without the cache", message)


def handle_connection_failure(fallback: Any = None) -> Callable[[F], F]:
    """Decorate a function using Redis: with CACHEOPS_DEGRADE_ON_FAILURE a connection failure
    warns and returns ``fallback`` (called when callable) instead of raising."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except FAILURES as e:
                degrade(e)
                return fallback() if callable(fallback) else fallback

        return wrapper  # type: ignore[return-value]

    return decorator


class _RoutedScript:
    """A script of cacheops (its keys travel in ARGV) sent with its first argument (a placed prefix
    or a key, see :func:`placed`) as KEYS[1], so a cluster client runs it on the node holding the
    slot of the shard its keys live in."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.sha = script.sha

    def __call__(self, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        return self.script(keys=list(keys or [args[0]]), args=args, client=client)


def register(text: str, client: Any = None) -> Any:
    """``client.register_script(text)``, routed to the shard of its first argument on a cluster."""
    script = (client or get_client()).register_script(text)
    return _RoutedScript(script) if is_cluster() else script


def load_script(name: str) -> Any:
    """A registered Lua script from cacheops/lua/<name>.lua (EVALSHA, reloaded on NOSCRIPT)."""
    script = _scripts.get(name)
    if script is None:
        text = resources.files("cacheops").joinpath(f"lua/{name}.lua").read_text(encoding="utf-8")
        script = register(text)
        _scripts[name] = script
    return script


# ------------------------------------------------------------------ the store's commands


def get_lane() -> Lane | None:
    """The lane of the current client, or None when its commands go through the client."""
    if _client is None or _before_use is not None:
        get_client()
    return _lane


def get(key: str) -> Any:
    """``get_client().get(key)``, over the lane when there is one."""
    lane = get_lane()
    return get_client().get(key) if lane is None else lane.call("GET", key)


def mget(keys: list[str]) -> list[Any]:
    """``get_client().mget(keys)``, over the lane when there is one."""
    lane = get_lane()
    return get_client().mget(keys) if lane is None else lane.call("MGET", *keys)


def run_script(name: str, args: list[Any]) -> Any:
    """The reply of the script of :func:`load_script` called with ``args`` (no keys): the
    ``Script`` object through the client, or EVALSHA over the lane (EVAL of its text on NOSCRIPT)."""
    script = load_script(name)
    lane = get_lane()
    if lane is None:
        return script(args=args)
    try:
        return lane.call("EVALSHA", script.sha, 0, *args)
    except redis.exceptions.NoScriptError:
        return lane.call("EVAL", script.script, 0, *args)


def run_in_shards(name: str, arg_lists: list[list[Any]], wait: Any = None) -> bool:
    """Run the script of :func:`load_script` once per argument list (each list's first item a
    placed prefix, so each run stays in its shard), pipelined: one round trip per node of a
    cluster. A node that lost the script (NOSCRIPT) gets it again, through one call per run.

    ``wait`` (``CACHEOPS_CLUSTER_WAIT``): ``(replicas, milliseconds)`` to follow the runs on each
    node with ``WAIT`` on the same connection; ``"auto"`` for ``WAIT 1`` (``AUTO_WAIT_MS``) on the
    nodes that have a replica in the topology the client holds, and nothing where none has one.
    Returns False when some node's runs were not acknowledged by that many replicas in time (True
    without ``wait``)."""
    global _topology_at
    script = load_script(name)
    client = get_client()
    if wait == "auto":
        if time.monotonic() - _topology_at > TOPOLOGY_EVERY:  # replicas added or gone since
            _topology_at = time.monotonic()
            refresh_topology(client)
        if not any(_replicated(client, slot) for slot in _shard_slots()):
            wait = None  # no shard's primary has a replica: nothing to wait for, nothing to pay
    # a pipeline per node (redis-py's cluster pipeline refuses EVALSHA before 8.2)
    wait = wait or None
    try:
        return _run_waited(client, script, arg_lists, wait)
    except FAILURES:
        # the node may be gone (a replica took over): ask the cluster who owns what, with or
        # without WAIT. The pipelines go to a node's own connection, past redis-py's cluster
        # client, which would have refreshed its topology itself: without this a failed
        # invalidation's replay would go to the dead primary forever, and with it every read
        # (the replay runs before each) would bypass the cache
        refresh_topology(client)
        return _run_waited(client, script, arg_lists, wait)  # running a shard's script twice is harmless


# "auto" asks the cluster for its topology again at most every TOPOLOGY_EVERY seconds (redis-py
# itself does on MOVED and connection errors, not when a replica joins)
TOPOLOGY_EVERY = 30.0
_topology_at = 0.0  # when the client was made or last refreshed its topology for "auto"
# primaries seen with a replica by this client: still waited on when a refresh no longer lists the
# replica (CLUSTER SLOTS leaves out a replica marked failing, which may come back and take over
# without what it missed); a replica that took over is a new primary and is not in here
_replicated_nodes: set[str] = set()


def _replicated(client: Any, slot: int) -> bool:
    """Whether the primary of ``slot`` has (or had) a replica, as far as the client knows: the
    slots map redis-py keeps from ``CLUSTER SLOTS``, refreshed when the topology changes."""
    nodes = client.nodes_manager.slots_cache.get(slot)
    if not nodes:
        return False
    if len(nodes) > 1:
        _replicated_nodes.add(nodes[0].name)
        _replicated_nodes.difference_update(node.name for node in nodes[1:])  # a primary turned replica
        return True
    return nodes[0].name in _replicated_nodes


def _shard_slots() -> list[int]:
    shard_tags()  # _tag_slots up to date
    return _tag_slots


def shard_primaries() -> tuple[str, ...] | None:
    """The primaries holding the shards' slots in the topology the client holds (no round trip;
    None without a cluster client)."""
    client = _client
    if client is None or not is_cluster():
        return None
    slots = client.nodes_manager.slots_cache
    return tuple(nodes[0].name if (nodes := slots.get(slot)) else "" for slot in _shard_slots())


def refresh_topology(client: Any = None) -> None:
    """Have the cluster client ask the cluster again which node holds which slots, with which
    replicas (a failover, a replica lost or added). Never raises."""
    try:
        (client or get_client()).nodes_manager.initialize()
    except Exception:
        logger.debug("cacheops could not refresh the cluster's slots", exc_info=True)


def _run_waited(client: Any, script: Any, arg_lists: list[list[Any]], wait: Any) -> bool:
    """The runs of :func:`run_in_shards`, grouped by node, each node's followed by ``WAIT``
    (with ``"auto"``, only on nodes with a replica; with None, on none)."""
    by_node: dict[str, tuple[Any, list[list[Any]]]] = {}
    for args in arg_lists:
        node = client.get_node_from_key(args[0])
        by_node.setdefault(node.name, (node, []))[1].append(args)
    acknowledged = True
    for node, lists in by_node.values():
        if wait is None:
            replicas, ms = 0, 0
        elif wait != "auto":
            replicas, ms = wait
        else:
            replicas, ms = (1 if _replicated(client, key_slot(lists[0][0].encode())) else 0), AUTO_WAIT_MS
        pipe = client.get_redis_connection(node).pipeline(transaction=False)
        for args in lists:
            pipe.evalsha(script.sha, 1, args[0], *args)
        if replicas:
            pipe.execute_command("WAIT", replicas, ms)
        replies = pipe.execute(raise_on_error=False)
        if not replicas:
            _checked(script, lists, replies)
            continue
        ran = _checked(script, lists, replies[:-1])
        acknowledged = acknowledged and ran and isinstance(replies[-1], int) and replies[-1] >= replicas
    return acknowledged


def _checked(script: Any, arg_lists: list[list[Any]], replies: list[Any]) -> bool:
    """Raise the first error among the replies of pipelined runs, after running again through the
    cluster client the runs a node refused (NOSCRIPT, or a slot that moved). False when some were."""
    direct = True
    for args, reply in zip(arg_lists, replies):
        if isinstance(reply, redis.exceptions.NoScriptError) or (
            isinstance(reply, redis.exceptions.ResponseError) and str(reply).startswith(("MOVED", "ASK"))
        ):
            script(args=args)
            direct = False
        elif isinstance(reply, Exception):
            raise reply
    return direct
