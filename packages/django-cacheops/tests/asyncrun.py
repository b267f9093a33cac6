"""Running coroutines in the async tests: a fresh event loop per call, cleaned up after."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections

from cacheops.aio import aclose


def run(coro: Any) -> Any:
    """Run ``coro`` in a new event loop; then close cacheops' asyncio client of that loop and the
    database connections Django's async fallback opened in its worker thread."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await aclose()
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())
