"""``with Model.pipeline() as p`` / ``async with Model.apipeline() as p``: many writes, one round trip.

Script calls on these pipelines carry their scripts: within one MULTI/EXEC the first call of each
script is sent as ``EVAL`` with its source (which also caches it on the server) and the later
ones as ``EVALSHA``. So a transaction never meets ``NOSCRIPT``: not after a restart or a
``SCRIPT FLUSH``, and not when redis-py reconnects and sends the whole transaction again to a
server that has just restarted. (Redis reports ``NOSCRIPT`` only at ``EXEC``, after running the
transaction's other commands, so a batch that met it could not be undone, only repeated.)
Pipelines that are not transactions (a cluster, or ``transaction=False``) send every script call
as ``EVAL``: between their commands another client may flush the script cache.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from .runner import Eval, Script, queue

__all__ = ["AsyncPipeline", "BatchingPipeline", "Pipeline", "is_cluster", "raw_pipeline"]

#: Most objects one batched script call carries (a script blocks the server while it runs).
BATCH_LIMIT = 500


def is_cluster(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster (sync or asyncio)."""
    return hasattr(client, "get_default_node")


class BatchingPipeline:
    """A redis-py pipeline with script calls that a layer may merge: back-to-back calls of the same
    script on the same keys become one call carrying every call's arguments (each object is still
    written atomically, by the same script). Anything else queued on the pipeline first sends the
    pending batch, so commands keep their order: reading :attr:`redis` does that."""

    def __init__(self, client: Any, transaction: bool | None) -> None:
        cluster = is_cluster(client)
        if transaction is None:
            transaction = not cluster
        self.transaction = transaction
        self._redis = client.pipeline(transaction=transaction)
        # EVALSHA is safe only after an EVAL of the same script inside the same transaction.
        self._evalsha_ok = transaction and not cluster
        self._sent: set[str] = set()  # scripts sent with their source in this transaction
        self._batch: tuple[Script, tuple[Any, ...], list[Any], list[int]] | None = None
        self.results: list[Any] | None = None

    @property
    def redis(self) -> Any:
        """The redis-py pipeline, with every batched call queued on it (for your own commands)."""
        target = self._target()
        self._sent.clear()  # what you queue may be a SCRIPT FLUSH: send sources again after it
        return target

    def _target(self) -> Any:
        """The redis-py pipeline, for this package's own commands (the pending batch sent first)."""
        self.flush()
        return self._redis

    def queue_operation(self, op: Any) -> None:
        """Queue a write operation of a plan (see :mod:`redis_schematics.runner`)."""
        if isinstance(op, Eval):
            self.flush()
            self._send(op)
        else:
            queue(self._target(), op)

    def add_to_batch(self, script: Script, keys: tuple[Any, ...], args: tuple[Any, ...] | list[Any]) -> None:
        """Queue ``script`` with ``keys`` and ``args``, merged with the pending call when that one
        runs the same script on the same keys (the script must take its arguments in groups)."""
        batch = self._batch
        if batch is not None and batch[0] is script and batch[1] == keys and batch[3][0] < BATCH_LIMIT:
            batch[2].extend(args)
            batch[3][0] += 1
            return
        self.flush()
        self._batch = (script, keys, list(args), [1])

    def flush(self) -> None:
        """Queue the pending batched call, if any."""
        batch = self._batch
        if batch is not None:
            self._batch = None
            self._send(Eval(batch[0], batch[1], tuple(batch[2])))

    def _send(self, op: Eval) -> None:
        script = op.script
        if self._evalsha_ok and script.sha in self._sent:
            self._redis.execute_command("EVALSHA", script.sha, len(op.keys), *op.keys, *op.args)
            return
        # A cluster pipeline routes a raw EVAL by its first key.
        self._redis.execute_command("EVAL", script.source, len(op.keys), *op.keys, *op.args)
        if self._evalsha_ok:
            self._sent.add(script.sha)

    def _forget(self) -> None:
        """Drop what is queued (the redis-py pipeline is reset by the caller)."""
        self._batch = None
        self._sent.clear()


class Pipeline(BatchingPipeline):
    """A redis-py pipeline that is executed when the ``with`` block ends without an error.

    If the block raises (a failed validation, say), the queued commands are discarded and nothing
    is written. ``results`` holds the replies after execution (one per batched script call).
    """

    def execute(self) -> list[Any]:
        """Send every queued command now and return their replies."""
        try:
            results: list[Any] = self._target().execute()
        finally:
            self._sent.clear()
        self.results = results
        return results

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.execute()
        finally:
            self._forget()
            self._redis.reset()


class AsyncPipeline(BatchingPipeline):
    """The ``redis.asyncio`` twin of :class:`Pipeline` (``async with``)."""

    async def execute(self) -> list[Any]:
        """Send every queued command now and return their replies."""
        try:
            results: list[Any] = await self._target().execute()
        finally:
            self._sent.clear()
        self.results = results
        return results

    async def __aenter__(self) -> AsyncPipeline:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                await self.execute()
        finally:
            self._forget()
            await self._redis.reset()


def raw_pipeline(pipeline: Any) -> Any:
    """The redis-py pipeline to queue this package's own plain commands on: the one inside one of
    ours (its pending batch sent first), or a bare redis-py pipeline as is."""
    if isinstance(pipeline, BatchingPipeline):
        return pipeline._target()
    return pipeline
