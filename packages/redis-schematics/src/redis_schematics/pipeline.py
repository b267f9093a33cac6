"""``with Model.pipeline() as p`` / ``async with Model.apipeline() as p``: many writes, one round trip."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from .runner import Eval, Script, queue

__all__ = ["AsyncPipeline", "Pipeline", "is_cluster", "raw_pipeline"]

#: Most objects one batched script call carries (a script blocks the server while it runs).
BATCH_LIMIT = 500


def is_cluster(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster (sync or asyncio)."""
    return hasattr(client, "get_default_node")


class _Batching:
    """Script calls that a layer may merge: back-to-back calls of the same script on the same keys
    become one call carrying every call's arguments (each object is still written atomically, by
    the same script). Anything else queued on the pipeline first sends the pending batch, so
    commands keep their order: reading :attr:`redis` does that."""

    def __init__(self, client: Any, transaction: bool | None) -> None:
        if transaction is None:
            transaction = not is_cluster(client)
        self.transaction = transaction
        self._redis = client.pipeline(transaction=transaction)
        self._batch: tuple[Script, tuple[Any, ...], list[Any], list[int]] | None = None
        self.results: list[Any] | None = None

    @property
    def redis(self) -> Any:
        """The redis-py pipeline, with every batched call queued on it."""
        self.flush()
        return self._redis

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
            queue(self._redis, Eval(batch[0], batch[1], tuple(batch[2])))


class Pipeline(_Batching):
    """A redis-py pipeline that is executed when the ``with`` block ends without an error.

    If the block raises (a failed validation, say), the queued commands are discarded and nothing
    is written. ``results`` holds the replies after execution (one per batched script call).
    """

    def execute(self) -> list[Any]:
        """Send every queued command now and return their replies."""
        self.results = self.redis.execute()
        return self.results

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.execute()
        finally:
            self._batch = None
            self._redis.reset()


class AsyncPipeline(_Batching):
    """The ``redis.asyncio`` twin of :class:`Pipeline` (``async with``)."""

    async def execute(self) -> list[Any]:
        """Send every queued command now and return their replies."""
        self.results = await self.redis.execute()
        return self.results

    async def __aenter__(self) -> AsyncPipeline:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                await self.execute()
        finally:
            self._batch = None
            await self._redis.reset()


def raw_pipeline(pipeline: Any) -> Any:
    """The redis-py pipeline inside one of ours (a bare redis-py pipeline is accepted as is)."""
    return getattr(pipeline, "redis", pipeline) if pipeline is not None else None
