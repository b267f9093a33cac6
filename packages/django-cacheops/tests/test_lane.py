"""The lane of cacheops (issue 18): GET, MGET and the store scripts over connections of its own.

The synchronous lane and each event loop's asyncio lane take up to
``cacheops.connections.lane_size`` connections from their client's own pool and keep them (a
quarter of ``max_connections``, at most 4, all they need beside an unbounded pool), so
``max_connections`` holds exactly; busy, a lane leaves the command to the client.  With a
``BlockingConnectionPool``, a cluster, a client class or tracing that overrides command execution,
or client-side caching, every command goes through the client, so a tracer sees every command.
Everything here talks to real redis-servers.
"""

from __future__ import annotations

import asyncio
import functools
import os
import pickle
import threading
import time
import warnings
from typing import Any

import pytest
import redis
from django.test import override_settings

from cacheops import cached_as, invalidate_all
from cacheops.conf import settings as cacheops_settings
from cacheops.connections import LANE_MAX, UNBOUNDED, lane_size
from cacheops.redis import get, get_client, get_lane, mget, run_script
from cacheops.store import MISSING, read, read_with_epochs, snapshot, write
from tests.test_degrade import own_redis  # noqa: F401 - a redis-server the test can stop
from tests.test_sentinel import SERVICE, sentinel  # noqa: F401 - a redis-sentinel watching it
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db(transaction=True)


def commands() -> dict[str, int]:
    """Calls per command since the last call (INFO commandstats of the cacheops Redis)."""
    client = get_client()
    stats = client.info("commandstats")
    client.config_resetstat()
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def read_command() -> str:
    """The command a cached read sends: MGET, or EVALSHA of the read script in insideout mode."""
    return "evalsha" if cacheops_settings.CACHEOPS_INSIDEOUT else "mget"


class TracedRedis(redis.Redis):
    """A client class that sees every command."""

    seen: list[str] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.seen.append(str(args[0]))
        return super().execute_command(*args, **options)


# ------------------------------------------------------------------ the client sends everything


@pytest.mark.usefixtures("mode")
def test_hits_and_misses_send_one_read_each(settings):
    first, cat = Category.objects.create(title="first"), Category.objects.create(title="a")
    assert Category.objects.get(pk=first.pk).title == "first"  # the scripts are loaded now
    commands()
    assert Category.objects.get(pk=cat.pk).title == "a"  # miss: read with epochs, then store
    miss = commands()
    assert Category.objects.get(pk=cat.pk).title == "a"
    hit = commands()
    if settings.CACHEOPS_INSIDEOUT:
        assert (miss.get("evalsha"), miss.get("mget")) == (2, None)
        assert (hit.get("evalsha"), hit.get("mget")) == (1, None)
    else:
        assert (miss.get("mget"), miss.get("evalsha")) == (1, 1)
        assert (hit.get("mget"), hit.get("evalsha")) == (1, None)


@pytest.mark.usefixtures("mode")
def test_a_client_class_sees_every_command_of_reads_and_stores(settings, queries):
    settings.CACHEOPS_CLIENT_CLASS = "tests.test_lane.TracedRedis"
    TracedRedis.seen.clear()
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert TracedRedis.seen.count(read_command().upper()) >= 2 and "EVALSHA" in TracedRedis.seen
    TracedRedis.seen.clear()
    prefix = "lane:"
    epochs = snapshot(prefix, ["t"])
    assert write(prefix, "k", [1, "x"], {"t": [{"a": "1"}]}, 60, epochs)
    assert read(prefix, "k") == [1, "x"]
    assert read(prefix, "nothing") is MISSING
    assert read_with_epochs(prefix, "k", ["t"]) == ([1, "x"], None)
    expected = {"EVALSHA"} if settings.CACHEOPS_INSIDEOUT else {"MGET", "EVALSHA", "GET"}
    assert expected <= set(TracedRedis.seen)


def test_a_traced_client_sees_every_command(monkeypatch, settings, redis_server):
    """Tracing integrations wrap ``redis.Redis.execute_command`` (functools.wraps or wrapt)."""
    original = redis.Redis.execute_command
    seen: list[str] = []

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **options: Any) -> Any:
        seen.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", traced)
    settings.CACHEOPS_REDIS = redis_server.url_for_db(0)
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert "EVALSHA" in seen and seen.count(read_command().upper()) >= 2


@pytest.mark.usefixtures("mode")
def test_resp3_client_caches_like_resp2(settings, redis_server, queries):
    settings.CACHEOPS_REDIS = {"host": redis_server.host, "port": redis_server.port, "protocol": 3}
    cat = Category.objects.create(title="a")

    @cached_as(Category)
    def titles() -> list[str]:
        return [c.title for c in Category.objects.nocache()]

    assert Category.objects.get(pk=cat.pk).title == "a"
    assert titles() == ["a"]
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
        assert titles() == ["a"]
    assert q.count == 0
    cat.title = "b"
    cat.save()
    assert Category.objects.get(pk=cat.pk).title == "b"
    assert titles() == ["b"]


# ------------------------------------------------------------------ the rule


def unbounded_url(redis_server: Any, db: int = 0) -> str:
    """The test server's URL with a pool of no bound: the lane is allowed."""
    return redis_server.url_for_db(db) + f"?max_connections={UNBOUNDED}"


def test_the_rule_gives_no_lane_to_a_blocking_pool_a_cluster_or_an_overridden_client():
    import redis.asyncio
    import redis.cluster

    unbounded = {"max_connections": UNBOUNDED}
    assert lane_size(redis.Redis(**unbounded)) == UNBOUNDED  # as many as run at once
    assert lane_size(redis.asyncio.Redis(**unbounded)) == UNBOUNDED
    assert lane_size(redis.Redis.from_url(f"redis://localhost/0?max_connections={UNBOUNDED}")) == UNBOUNDED
    for never in (
        redis.Redis(connection_pool=redis.BlockingConnectionPool(max_connections=100)),
        redis.asyncio.Redis(connection_pool=redis.asyncio.BlockingConnectionPool(max_connections=100)),
        redis.Redis(single_connection_client=True, **unbounded),
        redis.asyncio.Redis(single_connection_client=True, **unbounded),
        TracedRedis(**unbounded),
        object.__new__(redis.cluster.RedisCluster),
        object.__new__(redis.asyncio.cluster.RedisCluster),
    ):
        assert lane_size(never) == 0, never
    callbacks = redis.Redis(**unbounded)
    callbacks.set_response_callback("GET", lambda reply: reply)
    instance = redis.Redis(**unbounded)
    instance.execute_command = lambda *args, **options: None  # type: ignore[method-assign]
    for never in (callbacks, instance):
        assert lane_size(never) == 0


def test_a_lane_takes_a_quarter_of_a_bounded_pool_at_most_four():
    import redis.asyncio

    assert LANE_MAX == 4
    for bound, size in ((1, 0), (2, 0), (3, 0), (4, 1), (8, 2), (12, 3), (16, 4), (50, 4), (100, 4)):
        assert lane_size(redis.Redis(max_connections=bound)) == size, bound
        assert lane_size(redis.asyncio.Redis(max_connections=bound)) == size, bound
    for default in (redis.Redis(), redis.asyncio.Redis()):  # redis-py 8's default pool of 100
        bound = default.connection_pool.max_connections
        assert lane_size(default) == (UNBOUNDED if bound >= UNBOUNDED else LANE_MAX)
    assert lane_size(TracedRedis(max_connections=100)) == 0


def test_client_side_caching_keeps_the_client():
    from redis.cache import CacheConfig

    client = redis.Redis(protocol=3, cache_config=CacheConfig(), max_connections=UNBOUNDED)
    assert client.connection_pool.cache is not None
    assert lane_size(client) == 0


@pytest.mark.usefixtures("mode")
@pytest.mark.parametrize("bound", ["unbounded", "default", 8])
def test_hits_go_over_the_lane(settings, redis_server, queries, bound):
    """Beside an unbounded pool, redis-py 8's default pool of 100 and a pool of 8."""
    if bound == "unbounded":
        settings.CACHEOPS_REDIS = unbounded_url(redis_server)
    elif bound != "default":
        settings.CACHEOPS_REDIS = redis_server.url_for_db(0) + f"?max_connections={bound}"
    lane = get_lane()
    assert lane is not None
    client = get_client()
    seen: list[str] = []
    execute = client.execute_command

    def traced(*args: Any, **options: Any) -> Any:
        seen.append(str(args[0]))
        return execute(*args, **options)

    client.execute_command = traced  # after the rule was applied: it sees what skips the lane
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    commands()
    seen.clear()
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert commands().get(read_command()) == 1  # the server answered the hit's read...
    assert read_command().upper() not in seen  # ...which did not go through the client
    assert lane._free  # the lane's connection, given back


def test_the_default_pool_has_a_lane():
    client = get_client()
    lane = get_lane()
    assert lane is not None and lane.pool is client.connection_pool
    assert lane.size == (UNBOUNDED if client.connection_pool.max_connections >= UNBOUNDED else LANE_MAX)


@pytest.mark.usefixtures("mode")
def test_the_lane_gives_what_the_client_gives(settings, redis_server):
    """The same sequence of cached reads, misses, stores and raw commands, over the lane and
    through the client, gives the same values (and the same errors)."""
    cats = [Category.objects.create(title=t) for t in "abc"]
    results = {}
    urls = {
        "lane": unbounded_url(redis_server),
        "bounded lane": redis_server.url_for_db(0) + "?max_connections=100",
        "client": redis_server.url_for_db(0) + "?max_connections=3",  # too few for a lane
    }
    for side, url in urls.items():
        settings.CACHEOPS_REDIS = url
        assert (get_lane() is not None) == (side != "client")
        invalidate_all()
        got: list[Any] = []
        for _ in range(2):  # a miss and store, then a hit
            got.append([Category.objects.get(pk=c.pk).title for c in cats])
            got.append(Category.objects.filter(title__in=["a", "b"]).count())
            got.append(Category.objects.filter(pk=cats[0].pk).count())
            got.append(list(Category.objects.filter(title__gt="a").values_list("title", flat=True)))
        epochs = snapshot("same:", ["t"])
        got.append(write("same:", "k", {"x": [1, 2]}, {"t": [{"a": "1"}]}, 60, epochs))
        got.append((read("same:", "k"), read("same:", "missing") is MISSING))
        got.append(read_with_epochs("same:", "k", ["t"]))
        get_client().set("same:raw", "[]\nraw")
        got.append(
            (get("same:raw"), mget(["same:raw", "same:none"]), run_script("read_insideout", ["", "same:raw"]))
        )
        get_client().hset("same:hash", "f", "v")
        with pytest.raises(redis.ResponseError) as error:
            get("same:hash")
        got.append((type(error.value), str(error.value)))
        get_client().delete("same:hash", "same:raw")
        results[side] = got
    assert results["lane"] == results["client"] == results["bounded lane"]


# ------------------------------------------------------------------ max_connections


NAME = "cacheops-bounded"


def open_connections(watcher: Any) -> int:
    """How many connections named :data:`NAME` the server has now."""
    return sum(entry.get("name") == NAME for entry in watcher.client_list())


def read_from_threads(workers: int = 8, rounds: int = 150) -> tuple[list[str], list[BaseException]]:
    """Store and read from ``workers`` threads at once: (wrong replies, errors raised)."""
    client = get_client()
    for i in range(workers):
        client.set(f"t{i}", f"[]\nvalue {i}" * (i + 1))
    wrong: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(i: int) -> None:
        start.wait()
        mine, theirs = f"t{i}", f"t{(i + 1) % workers}"
        expected = [
            f"[]\nvalue {i}".encode() * (i + 1),
            f"[]\nvalue {(i + 1) % workers}".encode() * ((i + 1) % workers + 1),
        ]
        for n in range(rounds):
            try:
                if get(mine) != expected[0]:
                    wrong.append(f"GET in {i}")
                if mget([mine, theirs]) != expected:
                    wrong.append(f"MGET in {i}")
                if n % 10 == 0 and run_script("read_insideout", ["", mine]) != expected[0][3:]:
                    wrong.append(f"EVALSHA in {i}")
                key, value = f"k{i}:{n}", {"thread": i, "n": n}
                stored = write("bound:", key, value, {"t": [{"a": str(i)}]}, 60, snapshot("bound:", ["t"]))
                if stored and read("bound:", key) != value:
                    wrong.append(f"read {key}")
            except redis.ConnectionError as e:
                errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wrong, errors


def watch(watcher: Any) -> tuple[threading.Event, list[int]]:
    """Sample :func:`open_connections` until the event is set; the samples go to the list."""
    stop = threading.Event()
    seen: list[int] = []

    def run() -> None:
        while not stop.is_set():
            seen.append(open_connections(watcher))
            time.sleep(0.002)

    threading.Thread(target=run, daemon=True).start()
    return stop, seen


def test_max_connections_bounds_the_connections_of_threads_reading_at_once(settings, redis_server):
    """A ``ConnectionPool`` of 2: never more than 2 connections; an exhausted pool raises what
    redis-py raises (``MaxConnectionsError``) to the threads that find no connection.  A pool of
    2 is too small for a lane (a quarter of it): everything goes through the client."""
    settings.CACHEOPS_REDIS = {
        "host": redis_server.host,
        "port": redis_server.port,
        "max_connections": 2,
        "client_name": NAME,
    }
    assert get_lane() is None
    watcher = redis_server.client()
    stop, seen = watch(watcher)
    try:
        wrong, errors = read_from_threads()
    finally:
        stop.set()
    seen.append(open_connections(watcher))
    assert wrong == []
    assert max(seen) <= 2, f"{max(seen)} connections open with max_connections=2"
    assert {type(e) for e in errors} <= {redis.exceptions.MaxConnectionsError}
    assert get(f"t{0}") == b"[]\nvalue 0"  # the pool serves the next caller


@pytest.mark.parametrize("bound", [8, 12])
def test_the_lane_takes_its_connections_from_a_bounded_pool(settings, redis_server, bound):
    """8 threads beside a pool of 8 (the lane keeps 2 of them) or 12 (the lane keeps 3): never more
    connections than the bound, and no thread ever finds the pool exhausted (a thread goes through
    the client only while the lane's connections are all busy, so the threads never need more)."""
    settings.CACHEOPS_REDIS = {
        "host": redis_server.host,
        "port": redis_server.port,
        "max_connections": bound,
        "client_name": NAME,
    }
    lane = get_lane()
    assert lane is not None and lane.size == bound // 4
    watcher = redis_server.client()
    stop, seen = watch(watcher)
    try:
        wrong, errors = read_from_threads()
    finally:
        stop.set()
    seen.append(open_connections(watcher))
    assert (wrong, errors) == ([], [])
    assert max(seen) <= bound, f"{max(seen)} connections open with max_connections={bound}"
    assert 1 <= lane._held <= lane.size and len(lane._free) == lane._held  # all given back
    assert lane._held <= len(lane.pool._in_use_connections)  # checked out: the pool counts them
    from cacheops.redis import reset_client

    pool = lane.pool
    reset_client()  # the lane gives its connections back to the pool
    assert lane._held == 0 and lane._free == [] and not pool._in_use_connections


def test_a_blocking_pool_makes_threads_wait(settings, redis_server):
    pool = redis.BlockingConnectionPool(
        host=redis_server.host, port=redis_server.port, max_connections=2, timeout=20, client_name=NAME
    )
    settings.CACHEOPS_REDIS = {"connection_pool": pool}
    assert get_lane() is None  # waiting callers must get every connection
    watcher = redis_server.client()
    stop, seen = watch(watcher)
    try:
        wrong, errors = read_from_threads(rounds=60)
    finally:
        stop.set()
    seen.append(open_connections(watcher))
    assert (wrong, errors) == ([], [])
    assert max(seen) <= 2, f"{max(seen)} connections open with max_connections=2"


def stored_categories(count: int = 8) -> tuple[list[Category], list[list[Any]]]:
    """``count`` categories whose get(), count() and fetch are stored by the synchronous path,
    and what the synchronous path reads for each (a hit, read a second time)."""
    cats = [Category.objects.create(title=f"c{i}") for i in range(count)]
    expected = []
    for _ in range(2):  # stored, then read back: the async reads below all hit
        expected = [
            [
                Category.objects.get(pk=cat.pk).title,
                Category.objects.filter(pk=cat.pk).count(),
                list(Category.objects.filter(title__lte=cat.title).values_list("title", flat=True)),
            ]
            for cat in cats
        ]
    return cats, expected


async def read_async(cat: Category, rounds: int = 40) -> list[Any]:
    """What the native async reads give for ``cat``, ``rounds`` times (an error: its type)."""
    titles = Category.objects.filter(title__lte=cat.title).values_list("title", flat=True)
    got: list[Any] = []
    for _ in range(rounds):
        try:
            got.append(
                [
                    (await Category.objects.aget(pk=cat.pk)).title,
                    await Category.objects.filter(pk=cat.pk).acount(),
                    [title async for title in titles.all()],
                ]
            )
        except redis.ConnectionError as e:
            got.append(type(e))
    return got


def bounded(redis_server: Any, bound: int) -> dict[str, Any]:
    return {
        "host": redis_server.host,
        "port": redis_server.port,
        "max_connections": bound,
        "client_name": NAME,
    }


def test_an_asyncio_pool_of_two_bounds_concurrent_async_reads(settings, redis_server):
    """With ``max_connections=2`` (too few for a lane) the asyncio client's reads go through its
    pool: never more than 2 connections however many coroutines read at once."""
    from cacheops import async_redis
    from tests.asyncrun import run

    cats, expected = stored_categories()
    settings.CACHEOPS_REDIS = bounded(redis_server, 2)
    watcher = redis_server.client()

    async def main() -> list[list[Any]]:
        assert async_redis.get_async_lane() is None  # bounded below 4: no lane
        return await asyncio.gather(*(read_async(cat) for cat in cats))

    stop, seen = watch(watcher)
    try:
        results = run(main())
    finally:
        stop.set()
    seen.append(open_connections(watcher))
    assert max(seen) <= 2, f"{max(seen)} connections open with max_connections=2"
    for want, got in zip(expected, results):  # the reads that found no connection raise as redis-py does
        assert all(g == want or g is redis.exceptions.MaxConnectionsError for g in got), got
    assert sum(got.count(want) for want, got in zip(expected, results)) >= 40  # and the pool served many


@pytest.mark.parametrize("local", [False, True], ids=["classic", "fast"])
@pytest.mark.parametrize("bound", [8, 12])
def test_the_async_lane_takes_its_connections_from_a_bounded_pool(settings, redis_server, bound, local):
    """As many coroutines as the bound read at once beside a pool of 8 (the loop's lane keeps 2)
    or 12 (3), in the classic and the fast mode: never more connections than the bound, no
    coroutine finds the pool exhausted, and every read gives what the synchronous path gives."""
    from cacheops import async_redis
    from tests.asyncrun import run

    if local:
        settings.CACHEOPS = {**settings.CACHEOPS, "testapp.category": {"ops": "all", "local": True}}
        settings.CACHEOPS_LOCAL_CHECK = "stamps"  # every fast-mode hit sends its MGET
    cats, expected = stored_categories(bound)
    settings.CACHEOPS_REDIS = bounded(redis_server, bound)
    watcher = redis_server.client()

    async def main() -> tuple[list[list[Any]], int, int, bool]:
        lane = async_redis.get_async_lane()
        assert lane is not None and lane.size == bound // 4
        results = await asyncio.gather(*(read_async(cat) for cat in cats))
        in_use = lane.pool._in_use_connections
        return results, lane._held, len(lane._free), all(conn in in_use for conn in lane._free)

    stop, seen = watch(watcher)
    try:
        results, held, free, checked_out = run(main())
    finally:
        stop.set()
    seen.append(open_connections(watcher))
    assert max(seen) <= bound, f"{max(seen)} connections open with max_connections={bound}"
    assert results == [[want] * 40 for want in expected]
    assert 1 <= held <= bound // 4 and free == held  # all given back to the lane...
    assert checked_out  # ...and still checked out of the pool: it counts them


def test_the_async_lane_gives_its_connections_back(settings, redis_server):
    """``aclose()`` ends the loop's lane: its connections go back to the pool."""
    from cacheops import async_redis
    from tests.asyncrun import run

    cats, _ = stored_categories(2)
    settings.CACHEOPS_REDIS = bounded(redis_server, 8)

    async def main() -> tuple[int, int]:
        await asyncio.gather(*(read_async(cat, rounds=5) for cat in cats))
        lane = async_redis.get_async_lane()
        assert lane is not None
        held = lane._held
        await async_redis.aclose()
        return held, len(lane.pool._in_use_connections)

    held, in_use = run(main())
    assert held >= 1 and in_use == 0


def test_an_unbounded_asyncio_pool_reads_over_the_lane(settings, redis_server):
    from cacheops import async_redis
    from tests.asyncrun import run

    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    settings.CACHEOPS_REDIS = unbounded_url(redis_server)

    async def main() -> tuple[str, int, bool]:
        title = (await Category.objects.aget(pk=cat.pk)).title
        lane = async_redis.get_async_lane()
        assert lane is not None and lane.size == UNBOUNDED
        return title, await Category.objects.filter(pk=cat.pk).acount(), bool(lane._free)

    assert run(main()) == ("a", 1, True)


# ------------------------------------------------------------------ failures


@pytest.mark.parametrize("bound", ["unbounded", "default"])
def test_a_killed_lane_connection_is_dropped_and_the_client_resends(settings, redis_server, queries, bound):
    if bound == "unbounded":
        settings.CACHEOPS_REDIS = unbounded_url(redis_server)
    lane = get_lane()
    assert lane is not None
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    killed = lane.call("CLIENT", "ID")
    assert redis_server.client().client_kill_filter(_id=killed)
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"  # the lane failed, the client resent
    assert q.count == 0
    assert Category.objects.get(pk=cat.pk).title == "a"  # over the lane again
    assert lane._free and lane.call("CLIENT", "ID") != killed  # on a new connection


def test_an_error_reply_keeps_the_lane_connection(settings, redis_server):
    settings.CACHEOPS_REDIS = unbounded_url(redis_server)
    lane = get_lane()
    assert lane is not None
    own = lane.call("CLIENT", "ID")
    get_client().hset("lane:hash", "f", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        get("lane:hash")
    assert lane.call("CLIENT", "ID") == own
    get_client().delete("lane:hash")


def test_the_lane_degrades_when_redis_is_unreachable(settings, queries):
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from shared_testing.servers import free_port

    cat = Category.objects.create(title="a")
    settings.CACHEOPS_REDIS = {
        "host": "127.0.0.1",
        "port": free_port(),
        "retry": Retry(NoBackoff(), 0),
        "max_connections": UNBOUNDED,
    }
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    assert get_lane() is not None
    with pytest.warns(RuntimeWarning, match="unreachable"), queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 1
    settings.CACHEOPS_DEGRADE_ON_FAILURE = False
    with pytest.raises(redis.ConnectionError):
        Category.objects.get(pk=cat.pk)


def test_a_killed_connection_is_survived(redis_server, queries):
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    killer = redis_server.client()
    assert killer.client_kill_filter(_type="normal", skipme=True) >= 1
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"  # the pool made the connection again
    assert q.count == 0


@pytest.mark.usefixtures("mode")
def test_scripts_come_back_after_script_flush(queries):
    a, b, c = (Category.objects.create(title=t) for t in "abc")
    assert Category.objects.get(pk=a.pk).title == "a"
    get_client().script_flush()
    assert Category.objects.get(pk=b.pk).title == "b"  # a miss: the Script object loads it again
    get_client().script_flush()
    with queries() as q:
        assert Category.objects.get(pk=a.pk).title == "a"
        assert Category.objects.get(pk=b.pk).title == "b"
    assert q.count == 0
    assert Category.objects.get(pk=c.pk).title == "c"
    with queries() as q:
        assert Category.objects.get(pk=c.pk).title == "c"
    assert q.count == 0


def test_degrades_when_redis_is_unreachable(settings, queries):
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from shared_testing.servers import free_port

    cat = Category.objects.create(title="a")
    settings.CACHEOPS_REDIS = {"host": "127.0.0.1", "port": free_port(), "retry": Retry(NoBackoff(), 0)}
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert Category.objects.get(pk=cat.pk).title == "a"
    with pytest.warns(RuntimeWarning, match="unreachable"), queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 1
    settings.CACHEOPS_DEGRADE_ON_FAILURE = False
    with pytest.raises(redis.ConnectionError):
        Category.objects.get(pk=cat.pk)


def test_reads_come_back_with_the_server(own_redis, queries):  # noqa: F811
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    own_redis.kill()
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert Category.objects.get(pk=cat.pk).title == "a"
    own_redis.start()
    assert Category.objects.get(pk=cat.pk).title == "a"  # a miss: the new server is empty
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0


# ------------------------------------------------------------------ settings, clients, processes


def test_another_redis_db_gets_another_client(redis_server):
    cat = Category.objects.create(title="a")
    other = redis_server.client(db=5)
    other.flushdb()
    with override_settings(CACHEOPS_REDIS=redis_server.url_for_db(5)):
        assert Category.objects.get(pk=cat.pk).title == "a"
        assert other.keys("*q:*")
    assert not redis_server.client(db=0).keys("*q:*")
    other.flushdb()


def test_a_cluster_client_caches(settings, redis_cluster_server, queries):
    node = redis_cluster_server.nodes[0]
    settings.CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"
    settings.CACHEOPS_REDIS = f"redis://{node.host}:{node.port}/0"
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0


@pytest.mark.parametrize("limit", [None, UNBOUNDED], ids=["pool", "lane"])
def test_sentinel_reads_from_the_master(settings, sentinel, redis_server, queries, limit):  # noqa: F811
    settings.CACHEOPS_REDIS = {}
    settings.CACHEOPS_SENTINEL = {"locations": [sentinel], "service_name": SERVICE, "db": 0}
    if limit:
        settings.CACHEOPS_SENTINEL["max_connections"] = limit
        assert get_lane() is not None
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert redis_server.client().keys("*q:*")


@pytest.fixture(params=["client", "lane", "bounded lane"])
def lane_or_pool(request: Any, settings: Any, redis_server: Any) -> str:
    """A client whose reads go through its pool of 3 (too few for a lane), one whose pool has no
    bound, and the default one (redis-py 8: a pool of 100; the lane keeps 4 of them)."""
    if request.param == "lane":
        settings.CACHEOPS_REDIS = unbounded_url(redis_server)
    elif request.param == "client":
        settings.CACHEOPS_REDIS = redis_server.url_for_db(0) + "?max_connections=3"
    assert (get_lane() is None) == (request.param == "client")
    return request.param


def test_threads_get_their_own_replies(lane_or_pool):
    wrong, errors = read_from_threads(workers=3 if lane_or_pool == "client" else 8)
    assert (wrong, errors) == ([], [])


@pytest.mark.usefixtures("lane_or_pool")
def test_a_forked_child_never_uses_the_parents_socket():
    get_client().set("f", "parent")
    parent_id = get_client().client_id()
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process
        pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        try:
            report = {"id": get_client().client_id(), "get": get("f"), "mget": mget(["f", "none"])}
            os.write(writer, pickle.dumps(report))
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as f:
        report = pickle.loads(f.read())
    os.waitpid(pid, 0)
    assert report["id"] != parent_id
    assert (report["get"], report["mget"]) == (b"parent", [b"parent", None])
    assert get_client().client_id() == parent_id  # the parent's connection is still open
    assert get("f") == b"parent"
