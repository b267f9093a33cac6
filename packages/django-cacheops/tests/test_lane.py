"""The commands of cached reads and stores go through redis-py's client (issue 18).

cacheops once sent GET, MGET and the store scripts over a "lane" of connections of its own,
uncounted by the pool's ``max_connections``.  ``benchmarks/bench_lane.py`` measured a lane that
honours the pool at under 20 % less CPU per hit, so every command now goes through the client:
its pool bounds the connections, its retry policy and error types are the caller's, and a client
class or a tracing integration sees every command.  Everything here talks to real redis-servers.
"""

from __future__ import annotations

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

from cacheops import cached_as
from cacheops.conf import settings as cacheops_settings
from cacheops.redis import get, get_client, mget, run_script
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
    redis-py raises (``MaxConnectionsError``) to the threads that find no connection."""
    settings.CACHEOPS_REDIS = {
        "host": redis_server.host,
        "port": redis_server.port,
        "max_connections": 2,
        "client_name": NAME,
    }
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


def test_a_blocking_pool_makes_threads_wait(settings, redis_server):
    pool = redis.BlockingConnectionPool(
        host=redis_server.host, port=redis_server.port, max_connections=2, timeout=20, client_name=NAME
    )
    settings.CACHEOPS_REDIS = {"connection_pool": pool}
    watcher = redis_server.client()
    stop, seen = watch(watcher)
    try:
        wrong, errors = read_from_threads(rounds=60)
    finally:
        stop.set()
    seen.append(open_connections(watcher))
    assert (wrong, errors) == ([], [])
    assert max(seen) <= 2, f"{max(seen)} connections open with max_connections=2"


# ------------------------------------------------------------------ failures


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


def test_sentinel_reads_from_the_master(settings, sentinel, redis_server, queries):  # noqa: F811
    settings.CACHEOPS_REDIS = {}
    settings.CACHEOPS_SENTINEL = {"locations": [sentinel], "service_name": SERVICE, "db": 0}
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert redis_server.client().keys("*q:*")


def test_threads_get_their_own_replies():
    wrong, errors = read_from_threads()
    assert (wrong, errors) == ([], [])


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
