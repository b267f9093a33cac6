"""Sans-IO plumbing: layers describe Redis work as generators, one driver runs them sync, one async.

A *plan* is a generator that yields operations (:class:`Call`, :class:`Batch`, :class:`Eval`,
:class:`ScanKeys`) and receives each result; its return value is the plan's result. The same plan
runs on ``redis.Redis``, ``redis.cluster.RedisCluster`` and their ``redis.asyncio`` twins, or is
queued on a pipeline (write plans only: queued operations give back ``None``).
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

from redis.exceptions import NoScriptError

__all__ = ["Batch", "Call", "Eval", "Plan", "ScanKeys", "Script", "queue", "run_async", "run_sync"]

logger = logging.getLogger(__name__)

_NO_KWARGS: Any = MappingProxyType({})


class Call(NamedTuple):
    """One Redis command, by redis-py method name (``mget`` becomes ``mget_nonatomic`` on a cluster)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = _NO_KWARGS


class Batch(NamedTuple):
    """Commands sent together; with ``transaction`` inside MULTI/EXEC (keys must share a slot)."""

    calls: tuple[Call, ...]
    transaction: bool = True


@dataclass(frozen=True)
class Script:
    """A Lua script, run by SHA with a fallback to loading it; ``name`` is for messages."""

    source: str
    name: str = "script"

    @cached_property
    def sha(self) -> str:
        """The SHA-1 Redis names the script by."""
        return hashlib.sha1(self.source.encode()).hexdigest()


class Eval(NamedTuple):
    """Run ``script`` with ``keys`` and ``args`` (atomic on the server)."""

    script: Script
    keys: tuple[Any, ...]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ScanKeys:
    """Every key matching a glob, found with SCAN (on every primary of a cluster), never KEYS."""

    pattern: str
    count: int = 1000
    type: str | None = None  # only keys of this Redis type (SCAN ... TYPE)


Plan = Generator[Any, Any, Any]

_CLUSTER_NAMES = {"mget": "mget_nonatomic"}


def _method(client: Any, name: str) -> Any:
    if name in _CLUSTER_NAMES and hasattr(client, _CLUSTER_NAMES[name]):
        name = _CLUSTER_NAMES[name]
    return getattr(client, name)


class _PipelineScript:
    """What redis-py pipelines need of a script to load it before execution."""

    __slots__ = ("script", "sha")

    def __init__(self, script: Script) -> None:
        self.script = script.source
        self.sha = script.sha


_pipeline_scripts: dict[str, _PipelineScript] = {}


def _pipeline_script(script: Script) -> _PipelineScript:
    found = _pipeline_scripts.get(script.sha)
    if found is None:
        found = _pipeline_scripts[script.sha] = _PipelineScript(script)
    return found


def queue(pipe: Any, op: Any) -> None:
    """Queue a write operation on a pipeline (sync and async pipelines queue synchronously):
    one of this package's (which has ``queue_operation``) or a bare redis-py pipeline."""
    own = getattr(pipe, "queue_operation", None)
    if own is not None:
        own(op)
    elif isinstance(op, Call):
        _method(pipe, op.name)(*op.args, **op.kwargs)
    elif isinstance(op, Batch):
        for call in op.calls:
            _method(pipe, call.name)(*call.args, **call.kwargs)
    elif isinstance(op, Eval):
        scripts = getattr(pipe, "scripts", None)
        if isinstance(scripts, set) and not hasattr(pipe, "get_default_node"):
            # A bare redis-py pipeline: it loads its registered scripts (SCRIPT EXISTS/LOAD) before
            # sending the commands.
            scripts.add(_pipeline_script(op.script))
            pipe.execute_command("EVALSHA", op.script.sha, len(op.keys), *op.keys, *op.args)
        else:
            # Cluster pipelines refuse eval()/evalsha() and script registration, but route a raw
            # EVAL by its first key.
            pipe.execute_command("EVAL", op.script.source, len(op.keys), *op.keys, *op.args)
    else:
        raise TypeError(f"{type(op).__name__} cannot be queued on a pipeline (reads need a client)")


# Client -> SHAs of the scripts that ran through it: NOSCRIPT for one of them means the server
# lost its script cache; for another, only that nobody had loaded it there yet.
_ran: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _note_ran(client: Any, script: Script) -> None:
    try:
        ran = _ran.get(client)
        if ran is None:
            ran = _ran[client] = set()
    except TypeError:  # a client that takes no weak reference
        return
    ran.add(script.sha)


def _log_missing(client: Any, script: Script) -> None:
    try:
        lost = script.sha in _ran.get(client, ())
    except TypeError:
        lost = False
    if lost:
        logger.warning(
            "Redis has lost its script cache (restarted, failed over or SCRIPT FLUSH): loading "
            "the redis-schematics %s script (%s) again and repeating the call",
            script.name,
            script.sha,
        )
    else:
        logger.debug("loading the redis-schematics %s script (%s)", script.name, script.sha)


def _step_sync(client: Any, op: Any) -> Any:
    if isinstance(op, Call):
        if op.kwargs:
            return _method(client, op.name)(*op.args, **op.kwargs)
        return _method(client, op.name)(*op.args)
    if isinstance(op, Batch):
        with client.pipeline(transaction=op.transaction) as pipe:
            for call in op.calls:
                _method(pipe, call.name)(*call.args, **call.kwargs)
            return pipe.execute()
    if isinstance(op, Eval):
        try:
            reply = client.evalsha(op.script.sha, len(op.keys), *op.keys, *op.args)
        except NoScriptError:  # nothing ran: load the script and run the call again
            _log_missing(client, op.script)
            client.script_load(op.script.source)
            reply = client.evalsha(op.script.sha, len(op.keys), *op.keys, *op.args)
        _note_ran(client, op.script)
        return reply
    if isinstance(op, ScanKeys):
        return list(client.scan_iter(match=op.pattern, count=op.count, _type=op.type))
    raise TypeError(f"unknown operation {op!r}")


async def _step_async(client: Any, op: Any) -> Any:
    if isinstance(op, Call):
        return await _method(client, op.name)(*op.args, **op.kwargs)
    if isinstance(op, Batch):
        async with client.pipeline(transaction=op.transaction) as pipe:
            for call in op.calls:
                _method(pipe, call.name)(*call.args, **call.kwargs)
            return await pipe.execute()
    if isinstance(op, Eval):
        try:
            reply = await client.evalsha(op.script.sha, len(op.keys), *op.keys, *op.args)
        except NoScriptError:  # nothing ran: load the script and run the call again
            _log_missing(client, op.script)
            await client.script_load(op.script.source)
            reply = await client.evalsha(op.script.sha, len(op.keys), *op.keys, *op.args)
        _note_ran(client, op.script)
        return reply
    if isinstance(op, ScanKeys):
        return [key async for key in client.scan_iter(match=op.pattern, count=op.count, _type=op.type)]
    raise TypeError(f"unknown operation {op!r}")


def run_sync(plan: Plan, client: Any, pipeline: Any = None) -> Any:
    """Run ``plan`` on a synchronous client, or queue it on ``pipeline``; return the plan's result."""
    result = None
    try:
        while True:
            op = plan.send(result)
            if pipeline is not None:
                queue(pipeline, op)
                result = None
            else:
                result = _step_sync(client, op)
    except StopIteration as done:
        return done.value


async def run_async(plan: Plan, client: Any, pipeline: Any = None) -> Any:
    """Run ``plan`` on a ``redis.asyncio`` client, or queue it on ``pipeline``; return its result."""
    result = None
    try:
        while True:
            op = plan.send(result)
            if pipeline is not None:
                queue(pipeline, op)
                result = None
            else:
                result = await _step_async(client, op)
    except StopIteration as done:
        return done.value
