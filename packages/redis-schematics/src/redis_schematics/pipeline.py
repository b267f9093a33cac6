"""``with Model.pipeline() as p`` / ``async with Model.apipeline() as p``: many writes, one round trip."""

from __future__ import annotations

from types import TracebackType
from typing import Any

__all__ = ["AsyncPipeline", "Pipeline", "is_cluster", "raw_pipeline"]


def is_cluster(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster (sync or asyncio)."""
    return hasattr(client, "get_default_node")


class Pipeline:
    """A redis-py pipeline that is executed when the ``with`` block ends without an error.

    If the block raises (a failed validation, say), the queued commands are discarded and nothing
    is written. ``results`` holds the replies after execution.
    """

    def __init__(self, client: Any, transaction: bool | None = None) -> None:
        if transaction is None:
            transaction = not is_cluster(client)
        self.transaction = transaction
        self.redis = client.pipeline(transaction=transaction)
        self.results: list[Any] | None = None

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
            self.redis.reset()


class AsyncPipeline:
    """The ``redis.asyncio`` twin of :class:`Pipeline` (``async with``)."""

    def __init__(self, client: Any, transaction: bool | None = None) -> None:
        if transaction is None:
            transaction = not is_cluster(client)
        self.transaction = transaction
        self.redis = client.pipeline(transaction=transaction)
        self.results: list[Any] | None = None

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
            await self.redis.reset()


def raw_pipeline(pipeline: Any) -> Any:
    """The redis-py pipeline inside one of ours (a bare redis-py pipeline is accepted as is)."""
    return getattr(pipeline, "redis", pipeline) if pipeline is not None else None
