"""Pipelined script calls survive an empty script cache: a ``SCRIPT FLUSH`` between redis-py's
script check and ``EXEC``, and a real restart of the server while a transaction is on its way
(redis-py reconnects and sends the whole transaction again). Each batch stays all or nothing."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.backoff import ConstantBackoff
from redis.retry import Retry
from schematics import types

from redis_schematics import BaseRedisMixin, HashRedisModel, IndexedRedisModel, SimpleRedisModel
from shared_testing.servers import RedisServer, start_redis_server


class Flavour(IndexedRedisModel):
    __indexes__ = ("name", "stock")
    id = types.StringType()
    name = types.StringType()
    stock = types.IntType()


class Cup(SimpleRedisModel):
    id = types.StringType()


class Tub(HashRedisModel):
    __expire__ = 3600  # written by a script
    id = types.StringType()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (a bounded wait for a state, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited 30 s for {what}")
        time.sleep(0.01)


def blocked(client: Any) -> bool:
    return int(client.info("clients")["blocked_clients"]) >= 1


def admin_for(client: Any) -> Any:
    """Another plain client of ``client``'s server."""
    kwargs = client.connection_pool.connection_kwargs
    return redis.Redis(host=kwargs["host"], port=kwargs["port"])


def flush_scripts_of(client: Any) -> Callable[[], None]:
    def flush() -> None:
        admin = admin_for(client)
        admin.script_flush()
        admin.close()

    return flush


def queue_writes(p: Any, start: int, count: int) -> None:
    """Indexed saves (batched), a plain SET, a hash script write and an indexed delete."""
    for i in range(start, start + count):
        Flavour({"id": str(i), "name": f"f{i % 3}", "stock": i}).set(pipeline=p)
    Cup({"id": str(start)}).set(pipeline=p)
    Tub({"id": str(start)}).set(pipeline=p)
    Flavour({"id": "gone"}).delete(pipeline=p)


def check_writes(count: int) -> None:
    assert sorted(int(f.id) for f in Flavour.all()) == list(range(count))
    assert sorted(int(f.id) for f in Flavour.filter(stock__gte=count - 2)) == [count - 2, count - 1]
    assert len(Flavour.filter(name="f1")) == len([i for i in range(count) if i % 3 == 1])


def run_in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(fn())
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def paused_pipeline(r: Any, during_pause: Callable[[], None], transaction: bool = True) -> Any:
    """Send a pipeline of writes while the server holds every write (CLIENT PAUSE WRITE), so redis-py
    has checked its scripts but the transaction has not run; call ``during_pause``; then resume."""

    def send() -> Any:
        with Flavour.pipeline(transaction=transaction) as p:
            queue_writes(p, 0, 700)  # two batched script calls
        return p.results

    admin = admin_for(r)
    admin.client_pause(60_000, all=False)
    try:
        thread, outcome = run_in_thread(send)
        wait_for(lambda: blocked(admin), "the pipeline to wait on the paused server")
        during_pause()
    finally:
        try:
            admin.client_unpause()
        except redis.ConnectionError:  # the server was restarted: nothing is paused
            pass
        admin.close()
    thread.join(60)
    assert not thread.is_alive()
    (result,) = outcome
    if isinstance(result, BaseException):
        raise result
    return result


# Redis 6.2's CLIENT PAUSE WRITE also holds SCRIPT FLUSH, so a flush cannot be placed between the
# pipeline's script check and its EXEC there; 6.2 is covered by the real restart test below.
@pytest.mark.requires_redis(">=7.0")
def test_script_flush_before_exec_does_not_break_the_transaction(r):
    Flavour({"id": "warm", "stock": 0}).set()  # scripts cached before
    Flavour({"id": "warm"}).delete()
    paused_pipeline(r, flush_scripts_of(r))
    check_writes(700)
    assert Cup.match_for_pk("0").id == "0"
    assert Tub.match_for_pk("0").id == "0"


# Redis 6.2's CLIENT PAUSE WRITE also holds SCRIPT FLUSH, so a flush cannot be placed between the
# pipeline's script check and its EXEC there; 6.2 is covered by the real restart test below.
@pytest.mark.requires_redis(">=7.0")
def test_script_flush_between_commands_of_a_plain_pipeline(r):
    paused_pipeline(r, flush_scripts_of(r), transaction=False)
    check_writes(700)


def test_script_flush_queued_inside_the_block_itself(r):
    with Flavour.pipeline() as p:
        queue_writes(p, 0, 3)
        p.redis.script_flush()
        queue_writes(p, 3, 3)
    check_writes(6)


def test_script_flush_before_an_async_pipeline(redis_server, r):
    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        BaseRedisMixin.__async_redis_client__ = client
        try:
            async with Flavour.apipeline() as p:
                for i in range(3):
                    await Flavour({"id": str(i), "stock": i}).aset(pipeline=p)
                p.redis.script_flush()
                await Flavour({"id": "3", "stock": 3}).aset(pipeline=p)
                await Flavour({"id": "x"}).adelete(pipeline=p)
        finally:
            await client.aclose()

    asyncio.run(main())
    assert sorted(f.id for f in Flavour.filter(stock__gte=0)) == ["0", "1", "2", "3"]


def test_a_single_script_call_reloads_the_script_and_says_so(r, caplog):
    Flavour({"id": "a", "stock": 1}).set()
    r.script_flush()
    with caplog.at_level(logging.WARNING, logger="redis_schematics.runner"):
        caplog.clear()
        Flavour({"id": "b", "stock": 2}).set()
        (record,) = [rec for rec in caplog.records if rec.name == "redis_schematics.runner"]
        assert record.levelno == logging.WARNING
        assert "lost its script cache" in record.getMessage()
        assert "save script" in record.getMessage()
        caplog.clear()
        Flavour({"id": "c", "stock": 3}).set()
        assert caplog.records == []
    assert sorted(f.id for f in Flavour.filter(stock__gte=2)) == ["b", "c"]


def test_a_first_load_is_no_warning(redis_server, bind, caplog):
    r = bind(redis_server.client())  # a client that has run no script yet
    try:
        r.script_flush()
        with caplog.at_level(logging.DEBUG, logger="redis_schematics.runner"):
            Flavour({"id": "a", "stock": 1}).set()
        records = [rec for rec in caplog.records if rec.name == "redis_schematics.runner"]
        assert [rec.levelno for rec in records] == [logging.DEBUG]
        assert "loading the redis-schematics save script" in records[0].getMessage()
    finally:
        r.flushdb()
        r.close()


# ---------------------------------------------------------------- a real restart


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    """A redis-server of this test alone, so that it may be restarted."""
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


def test_a_restart_while_a_transaction_is_on_its_way(private_server, bind):
    server = private_server
    client = bind(
        redis.Redis(
            host=server.host,
            port=server.port,
            retry=Retry(ConstantBackoff(0.05), 200),
            retry_on_error=[redis.ConnectionError],
        )
    )
    try:
        with Flavour.pipeline() as p:  # the scripts are cached on the first server
            queue_writes(p, 1000, 3)

        def restart() -> None:
            assert server.executor is not None
            server.executor.stop()
            server.executor.start()

        paused_pipeline(client, restart)
        # The restarted server is empty; it holds the whole transaction, sent again, once.
        check_writes(700)
        assert Cup.match_for_pk("0").id == "0"
        assert Tub.match_for_pk("0").id == "0"
    finally:
        client.close()
