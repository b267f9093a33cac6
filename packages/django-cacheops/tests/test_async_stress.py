"""Native async reads under stress: cancelled reads, a Redis that stops answering, event loops of
their own in several threads or one after another, writes in another thread.  Every read must
give what ``nocache()`` gives, and none may break the reads after it.  Real Redis, real database."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from cacheops.memory import local_cache
from tests.asyncrun import run
from tests.test_outage import Outage
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 24


@pytest.fixture(params=["classic", "insideout", "fast stamps"])
def storage(request: Any, settings: Any) -> str:
    """Where hits come from: the Redis payload (GET), the insideout read script (EVALSHA), or fast
    mode's copy in memory checked by one MGET of stamps per read."""
    if request.param == "insideout":
        settings.CACHEOPS_INSIDEOUT = True
    elif request.param == "fast stamps":
        settings.CACHEOPS = {"testapp.category": {"ops": "all", "local": True}, "testapp.*": {"ops": "all"}}
        settings.CACHEOPS_LOCAL_CHECK = "stamps"
        local_cache.clear()
    return request.param


@pytest.fixture(params=["unbounded lane", "default pool"])
def pool(request: Any, settings: Any, redis_server: Any) -> str:
    """A lane beside an unbounded pool (one connection per read running), and redis-py's default
    pool, whose lane keeps 4 connections (the reads beyond go through the client)."""
    from cacheops.connections import UNBOUNDED

    if request.param == "unbounded lane":
        settings.CACHEOPS_REDIS = redis_server.url_for_db(0) + f"?max_connections={UNBOUNDED}"
    return request.param


def make_rows() -> dict[int, str]:
    """``ROWS`` categories, every read of them cached (by the synchronous path): {pk: title}."""
    cats = [Category.objects.create(title=f"c{i:02}") for i in range(ROWS)]
    for cat in cats:
        assert Category.objects.get(pk=cat.pk).title == cat.title
        assert Category.objects.filter(title=cat.title).count() == 1
        assert Category.objects.filter(pk=cat.pk).exists()
    return {cat.pk: cat.title for cat in cats}


async def read_row(pk: int) -> tuple[int, str, int, bool]:
    """Three reads of three keys for one row: a shifted reply shows in any of them."""
    obj = await Category.objects.aget(pk=pk)
    count = await Category.objects.filter(title=obj.title).acount()
    exists = await Category.objects.filter(pk=pk).aexists()
    return obj.pk, obj.title, count, exists


def expected_row(rows: dict[int, str], pk: int) -> tuple[int, str, int, bool]:
    return pk, rows[pk], 1, True


async def read_all_checked(rows: dict[int, str]) -> list[Any]:
    """Every row read once, one after the other, then all at once: what differs from ``rows``."""
    wrong: list[Any] = []
    for pk in rows:
        try:
            got: Any = await read_row(pk)
        except Exception as e:  # a reply of another command breaks a read
            got = e
        if got != expected_row(rows, pk):
            wrong.append(("after", pk, repr(got)))
    results = await asyncio.gather(*(read_row(pk) for pk in rows), return_exceptions=True)
    for pk, got in zip(rows, results):
        if got != expected_row(rows, pk):
            wrong.append(("after, at once", pk, repr(got)))
    return wrong


async def cancel_at_random(rows: dict[int, str], rounds: int, seed: int) -> list[Any]:
    """Rounds of concurrent reads, a random part of them cancelled after a random number of loop
    turns (task.cancel(), asyncio.wait_for timeouts, a failing TaskGroup); what the reads that
    finished gave wrong, and then what the reads of every row give wrong."""
    rng = random.Random(seed)
    pks = list(rows)
    wrong: list[Any] = []

    def check(pk: int, got: Any) -> None:
        if isinstance(got, (asyncio.CancelledError, asyncio.TimeoutError)):
            return
        if got != expected_row(rows, pk):
            wrong.append((pk, repr(got)))

    async def turns(n: int) -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    for round_ in range(rounds):
        if round_ % 4 == 3:
            local_cache.clear()  # fast mode reads its copies again (a pipeline) before trusting them
        picks = rng.sample(pks, rng.randrange(4, len(pks)))
        how = round_ % 3
        if how == 0:  # task.cancel() at a random turn of the loop
            tasks = [asyncio.ensure_future(read_row(pk)) for pk in picks]
            await turns(rng.randrange(6))
            for task in tasks:
                if rng.random() < 0.5:
                    task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        elif how == 1:  # timeouts too short for some reads
            results = await asyncio.gather(
                *(asyncio.wait_for(read_row(pk), rng.choice((0, 1e-5, 1e-4, 5e-4, 1))) for pk in picks),
                return_exceptions=True,
            )
        else:  # one task of a group fails: the group cancels the others (Python 3.11+)
            group_class = getattr(asyncio, "TaskGroup", None)
            if group_class is None:
                continue
            tasks = []

            async def failing(n: int) -> None:
                await turns(n)
                raise LookupError("a sibling failed")

            try:
                async with group_class() as group:
                    tasks = [group.create_task(read_row(pk)) for pk in picks]
                    group.create_task(failing(rng.randrange(8)))
            except Exception as e:  # the ExceptionGroup of the failing task (and of wrong reads)
                assert type(e).__name__ == "ExceptionGroup"
            results = [
                asyncio.CancelledError() if t.cancelled() else t.exception() or t.result() for t in tasks
            ]
        for pk, got in zip(picks, results):
            check(pk, got)
    return wrong + await read_all_checked(rows)


@pytest.mark.usefixtures("storage", "pool")
def test_cancelled_reads_never_hand_a_reply_to_another_read():
    rows = make_rows()
    assert run(read_all_checked(rows)) == []
    assert run(cancel_at_random(rows, rounds=40, seed=20261204)) == []
    # the synchronous reads of the same keys are right too
    assert [Category.objects.get(pk=pk).title for pk in rows] == list(rows.values())


def lane_connections() -> int:
    """How many connections the Redis server of cacheops has open now."""
    from cacheops.redis import get_client

    return len(get_client().client_list())


def test_loops_closed_without_aclose_leave_no_connections_behind():
    """Each ``async_to_sync()`` call from synchronous code (Django runs an async view so under WSGI)
    and each ``asyncio.run()`` reads in an event loop of its own, closed without ``aclose()``: its
    client and connections must go with it, not pile up on the Redis server (which refuses clients
    beyond its ``maxclients``, and then every read fails)."""
    import gc

    from asgiref.sync import async_to_sync

    rows = make_rows()
    pk, title = next(iter(rows.items()))

    async def read() -> str:
        return (await Category.objects.aget(pk=pk)).title

    assert async_to_sync(read)() == title
    gc.collect()
    before = lane_connections()
    for _ in range(15):
        assert async_to_sync(read)() == title
        assert asyncio.run(read()) == title
    gc.collect()
    assert lane_connections() - before < 5  # was 30: one per loop, open for good


# ------------------------------------------------------------------ Redis unreachable


def async_reads(pk: int, title: str) -> tuple[str, int, int]:
    """What the native async reads of a row give, in an event loop of their own."""

    async def read() -> tuple[str, int, int]:
        return (
            (await Category.objects.aget(pk=pk)).title,
            await Category.objects.filter(title=title).acount(),
            len([c async for c in Category.objects.filter(pk=pk, title=title)]),
        )

    return run(read())


@pytest.fixture
def outage(settings: Any) -> Iterator[Outage]:
    """A redis-server of the test's own behind a proxy that can refuse (as in test_outage)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from cacheops.invalidation import missed

    own = Outage()
    settings.CACHEOPS_REDIS = {
        "host": "127.0.0.1",
        "port": own.proxy.port,
        "socket_timeout": 1,
        "socket_connect_timeout": 1,
        "retry": Retry(NoBackoff(), 0),  # a failure is reported at once
    }
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    yield own
    own.proxy.forward()
    own.proxy._listener.shutdown(socket.SHUT_RDWR)  # wakes the proxy's accept(): it closes at once
    own.close()
    missed.take()


@pytest.mark.parametrize("storage", ["classic", "insideout"], indirect=True)
def test_async_reads_send_the_missed_invalidations_first(outage, storage):
    """A write made while Redis was unreachable could not invalidate: when Redis answers again, the
    next read of the process, a native async one included, sends that invalidation first (the
    replay thread would only half a second later): it must not read the result of before."""
    cat = Category.objects.create(title="old")
    assert async_reads(cat.pk, "old") == ("old", 1, 1)  # misses, stored
    assert async_reads(cat.pk, "old") == ("old", 1, 1)  # hits
    outage.proxy.refuse()
    with pytest.warns(RuntimeWarning, match="unreachable"):
        cat.title = "new"
        cat.save()  # the invalidation is missed
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert async_reads(cat.pk, "old") == ("new", 0, 0)  # the database, while Redis is down
    outage.proxy.forward()
    assert async_reads(cat.pk, "old") == ("new", 0, 0)
    assert async_reads(cat.pk, "old") == ("new", 0, 0)  # cached again, right


@pytest.mark.parametrize("storage", ["fast stamps"], indirect=True)
def test_fast_mode_reads_degrade_while_a_missed_invalidation_waits(outage, storage):
    """The same in fast mode, the synchronous read (where native async reads fall back) first."""
    cat = Category.objects.create(title="old")
    assert Category.objects.get(pk=cat.pk).title == "old"
    assert async_reads(cat.pk, "old") == ("old", 1, 1)
    outage.proxy.refuse()
    with pytest.warns(RuntimeWarning, match="unreachable"):
        cat.title = "new"
        cat.save()  # the invalidation is missed
    with warnings.catch_warnings():  # (a failure to degrade must not read as "did not warn")
        warnings.simplefilter("ignore", RuntimeWarning)
        assert Category.objects.get(pk=cat.pk).title == "new"
        assert async_reads(cat.pk, "old") == ("new", 0, 0)
    outage.proxy.forward()
    assert async_reads(cat.pk, "old") == ("new", 0, 0)


# ------------------------------------------------------------------ loops and threads


def test_loops_in_threads_and_loops_one_after_another_read_their_own_rows():
    """Event loops in four threads at once, each over and over a new one (``asyncio.run()``), read
    rows at random: no reply of one read (or of one loop's connection) reaches another."""
    rows = make_rows()
    wrong: list[Any] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(6):
            pks = rng.sample(list(rows), 8)

            async def burst(pks: list[int] = pks) -> list[Any]:
                return await asyncio.gather(*(read_row(pk) for pk in pks), return_exceptions=True)

            try:
                results = asyncio.run(burst())  # no aclose(): the loop's client is left behind
            except Exception as e:
                wrong.append(repr(e))
                continue
            wrong.extend((pk, repr(got)) for pk, got in zip(pks, results) if got != expected_row(rows, pk))

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert run(read_all_checked(rows)) == []


@pytest.fixture(params=["classic", "insideout", "fast stamps", "fast push"])
def any_storage(request: Any, settings: Any) -> str:
    """As ``storage``, and fast mode trusting its copies while its listener hears no invalidation."""
    if request.param == "insideout":
        settings.CACHEOPS_INSIDEOUT = True
    elif request.param.startswith("fast"):
        settings.CACHEOPS = {"testapp.category": {"ops": "all", "local": True}, "testapp.*": {"ops": "all"}}
        settings.CACHEOPS_LOCAL_CHECK = request.param.removeprefix("fast ")
        local_cache.clear()
    return request.param


@pytest.mark.usefixtures("any_storage")
def test_a_write_committed_in_another_thread_is_seen_by_the_next_async_read():
    """A thread saves rows (each save committed and invalidated before it notes the new version)
    while the event loop reads them at random: a read started after a version was noted never
    gives an older one."""
    rows = make_rows()
    pks = list(rows)[:6]
    noted = dict.fromkeys(pks, 0)  # the version of each row committed (and invalidated) last
    started = dict.fromkeys(pks, 0)  # how many writes of each row began
    finished = dict.fromkeys(pks, 0)  # how many of them ended (committed, invalidated and noted)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        from django.db import connection, transaction

        rng = random.Random(7)
        try:
            for version in range(1, 61):
                pk = rng.choice(pks)
                started[pk] += 1
                with transaction.atomic():
                    cat = Category.objects.nocache().get(pk=pk)
                    cat.title = f"{pk}:{version}"
                    cat.save()
                noted[pk] = version
                finished[pk] += 1
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()
            connection.close()

    def version(title: str) -> int:
        return int(title.split(":")[1]) if ":" in title else 0

    async def read_while_writing() -> list[Any]:
        rng = random.Random(8)
        stale: list[Any] = []
        thread = threading.Thread(target=writer)
        thread.start()
        while not done.is_set() or rng.random() < 0.9:
            pk = rng.choice(pks)
            before, writes = noted[pk], (started[pk], finished[pk])
            got = (await Category.objects.aget(pk=pk)).title
            counted = await Category.objects.filter(pk=pk, title=f"{pk}:{before}").acount()
            if version(got) < before:
                stale.append(("aget", pk, got, before))
            if writes[0] == writes[1] == started[pk] and (version(got), counted) != (before, int(before > 0)):
                stale.append(("no write meanwhile", pk, got, counted, before))  # the row was "pk:before"
        thread.join()
        for pk in pks:  # at rest: every read is the database's
            fresh = Category.objects.nocache()
            expected = await fresh.filter(pk=pk).afirst()
            if (await Category.objects.aget(pk=pk)).title != expected.title:
                stale.append(("at rest", pk))
        return stale

    assert run(read_while_writing()) == []
    assert errors == []


@pytest.mark.usefixtures("storage")
def test_reads_cut_off_by_a_stalled_redis_fall_back_to_the_database(outage, settings):
    """Redis stops answering while reads are out (clients paused, then a partition that drops
    every byte): with CACHEOPS_DEGRADE_ON_FAILURE they time out and read the database, and every
    read after gives the right row (no late reply reaches a later read)."""
    settings.CACHEOPS_REDIS = {
        **settings.CACHEOPS_REDIS,
        "socket_timeout": 0.1,
        "socket_connect_timeout": 0.2,
    }
    rows = make_rows()
    pks = list(rows)[:6]

    async def reads_cut_off() -> list[Any]:
        wrong: list[Any] = []
        for stall in ("pause", "silence"):
            tasks = [asyncio.ensure_future(read_row(pk)) for pk in pks]
            await asyncio.sleep(0)  # the commands are out
            if stall == "pause":
                outage.real.client_pause(250)  # the server holds every command of the others
            else:
                outage.proxy.silence()  # every byte dropped, for 0.25 s
                asyncio.get_running_loop().call_later(0.25, outage.proxy.forward)
            for pk, got in zip(pks, await asyncio.gather(*tasks)):
                if got != expected_row(rows, pk):
                    wrong.append((stall, pk, got))
            await asyncio.sleep(0.3)  # the stall is over
            wrong.extend(await read_all_checked({pk: rows[pk] for pk in pks}))
        return wrong

    with warnings.catch_warnings(record=True) as degraded:
        warnings.simplefilter("always", RuntimeWarning)
        assert run(reads_cut_off()) == []
    assert any("unreachable" in str(w.message) for w in degraded)  # reads were cut off
    assert run(read_all_checked(rows)) == []


# ------------------------------------------------------------------ transactions


def test_async_to_sync_inside_a_dirty_transaction_reads_its_writes():
    """Synchronous code in an atomic block (a view with ATOMIC_REQUESTS, say) that calls async code
    through ``async_to_sync()``: Django's async methods query in that thread, in its transaction,
    and see its writes, as cacheops' synchronous reads do there; so must the cached async reads."""
    from asgiref.sync import async_to_sync
    from django.db import transaction

    cat = Category.objects.create(title="old")

    async def read() -> tuple[str, int, bool]:
        return (
            (await Category.objects.aget(pk=cat.pk)).title,
            await Category.objects.filter(title="new").acount(),
            await Category.objects.filter(pk=cat.pk, title="old").aexists(),
        )

    assert async_to_sync(read)() == ("old", 0, True)  # stored
    assert async_to_sync(read)() == ("old", 0, True)  # a hit
    with transaction.atomic():
        cat.title = "new"
        cat.save()
        assert (Category.objects.get(pk=cat.pk).title, Category.objects.filter(title="new").count()) == (
            "new",
            1,
        )
        assert async_to_sync(read)() == ("new", 1, False)  # was ("old", 0, True): the cache of before
        transaction.set_rollback(True)
    assert async_to_sync(read)() == ("old", 0, True)  # rolled back: nothing of it was stored
    with transaction.atomic():
        assert async_to_sync(read)() == ("old", 0, True)  # a clean transaction: cached reads are right
