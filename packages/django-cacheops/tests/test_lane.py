"""The lane of cacheops.redis: GET, MGET and the store scripts over connections of our own.

Everything here talks to real redis-servers: the lane's replies are compared with the client's,
its connections are killed with CLIENT KILL, the server is flushed of scripts, stopped, forked
from and hammered by threads.
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
from redis.connection import PythonRespSerializer

from cacheops import cached_as
from cacheops.conf import settings as cacheops_settings
from cacheops.redis import call, get_client, get_lane, load_script, run_script
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


def lane_id() -> int:
    """The CLIENT ID of the connection the next lane call takes (the one used last)."""
    return int(call("CLIENT", "ID"))


def connected_ids(client: Any = None) -> set[int]:
    return {int(entry["id"]) for entry in (client or get_client()).client_list()}


def last_command(client_id: int) -> str:
    """The last command the server ran for connection ``client_id`` (from CLIENT LIST)."""
    for entry in get_client().client_list():
        if int(entry["id"]) == client_id:
            return entry["cmd"]
    raise AssertionError(f"no connection {client_id}")


def read_command() -> str:
    """The command a cached read sends: MGET, or EVALSHA of the read script in insideout mode."""
    return "evalsha" if cacheops_settings.CACHEOPS_INSIDEOUT else "mget"


def eventually(check: Any, timeout: float = 5.0) -> None:
    """Poll ``check()`` until true: the server notices a closed socket in its own time."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.01)


# ------------------------------------------------------------------ commands go through the lane


@pytest.mark.usefixtures("mode")
def test_hits_and_misses_travel_over_the_lane(settings):
    assert get_lane() is not None
    cat = Category.objects.create(title="a")
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
    own = lane_id()
    assert Category.objects.get(pk=cat.pk).title == "a"
    # the hit was read over the lane's connection, not one of the client's pool
    assert last_command(own) == read_command()


@pytest.mark.usefixtures("mode")
def test_single_get_and_snapshot_use_the_lane():
    prefix = "lane:"
    epochs = snapshot(prefix, ["t"])
    own = lane_id()
    assert write(prefix, "k", [1, "x"], {"t": [{"a": "1"}]}, 60, epochs)
    assert last_command(own) == "evalsha"
    assert read(prefix, "k") == [1, "x"]
    assert last_command(own) == ("evalsha" if cacheops_settings.CACHEOPS_INSIDEOUT else "get")
    assert read(prefix, "nothing") is MISSING
    assert read_with_epochs(prefix, "k", ["t"]) == ([1, "x"], None)
    assert last_command(own) == read_command()
    assert snapshot(prefix, ["t", "u"]) == read_with_epochs(prefix, "nothing", ["u", "t"])[1]
    assert last_command(own) == read_command()


# ------------------------------------------------------------------ same replies as the client


@pytest.mark.parametrize("protocol", [2, 3, None])
def test_replies_equal_the_clients(settings, redis_server, protocol):
    settings.CACHEOPS_REDIS = {"host": redis_server.host, "port": redis_server.port, "protocol": protocol}
    client = get_client()
    assert get_lane() is not None
    client.set("s", "text")
    client.set("b", bytes(range(256)))
    client.set("n", 7)
    client.set("io", b"[]\n" + bytes(range(256)))  # an insideout entry: no stamps, then the data
    for args in [("GET", "s"), ("GET", "b"), ("GET", "none"), ("MGET", "s", "none", "b", "n")]:
        assert call(*args) == client.execute_command(*args)
    assert call("MGET", "s", "b") == client.mget(["s", "b"])
    assert call("GET", "b") == client.get("b")
    script = load_script("read_insideout")
    for args in (["", "io"], ["", "none"], ["", "io", "s", "none"], ["", "none", "s"]):
        assert run_script("read_insideout", args) == script(args=args)
    assert run_script("read_insideout", ["", "io"]) == bytes(range(256))
    text = "return {1, 'two', {3, false}, redis.call('get', 'n'), 1.5, nil}"
    assert call("EVAL", text, 0) == client.eval(text, 0)
    with pytest.raises(redis.ResponseError) as lane_error:
        call("EVAL", "return redis.call('incr', 's')", 0)
    with pytest.raises(redis.ResponseError) as client_error:
        client.eval("return redis.call('incr', 's')", 0)
    assert type(lane_error.value) is type(client_error.value)


@pytest.mark.usefixtures("mode")
def test_resp3_client_caches_like_resp2(settings, redis_server, queries):
    settings.CACHEOPS_REDIS = {"host": redis_server.host, "port": redis_server.port, "protocol": 3}
    assert get_lane() is not None
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


# ------------------------------------------------------------------ failures


def test_a_killed_connection_is_survived(redis_server, queries):
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    killer = redis_server.client()
    assert killer.client_kill_filter(_type="normal", skipme=True) >= 1  # the lane's and the pool's
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"  # the lane failed, the client retried
    assert q.count == 0
    own = lane_id()  # the lane is back in use, on a fresh connection
    assert killer.client_kill_filter(_id=own) == 1
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert lane_id() != own


def test_an_error_reply_keeps_the_connection_other_errors_drop_it():
    get_client().set("s", "text")
    own = lane_id()
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        call("LPUSH", "s", "x")
    assert lane_id() == own
    with pytest.raises(redis.DataError):
        call("GET", {"not": "a key"})
    assert lane_id() != own  # the connection in use then was dropped
    eventually(lambda: own not in connected_ids())

    class Interrupting(str):
        def encode(self, *args: Any, **kwargs: Any) -> bytes:
            raise KeyboardInterrupt

    if isinstance(get_lane()._free[-1]._command_packer, PythonRespSerializer):  # hiredis packs in C
        own = lane_id()
        with pytest.raises(KeyboardInterrupt):
            call("GET", Interrupting("s"))
        assert lane_id() != own
        eventually(lambda: own not in connected_ids())


@pytest.mark.usefixtures("mode")
def test_scripts_come_back_after_script_flush(queries):
    a, b, c = (Category.objects.create(title=t) for t in "abc")
    assert Category.objects.get(pk=a.pk).title == "a"
    get_client().script_flush()
    commands()
    assert Category.objects.get(pk=b.pk).title == "b"  # a miss: EVALSHA, NOSCRIPT, then EVAL
    assert commands().get("eval", 0) >= 1
    get_client().script_flush()
    with queries() as q:
        assert Category.objects.get(pk=a.pk).title == "a"
        assert Category.objects.get(pk=b.pk).title == "b"
    assert q.count == 0
    assert Category.objects.get(pk=c.pk).title == "c"  # stored by EVAL of the store script
    commands()
    with queries() as q:
        assert Category.objects.get(pk=c.pk).title == "c"
    assert q.count == 0
    assert "eval" not in commands()  # EVAL put the scripts back: EVALSHA alone from then on


def test_degrades_when_redis_is_unreachable(settings, queries):
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from shared_testing.servers import free_port

    cat = Category.objects.create(title="a")
    settings.CACHEOPS_REDIS = {"host": "127.0.0.1", "port": free_port(), "retry": Retry(NoBackoff(), 0)}
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    assert get_lane() is not None
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert Category.objects.get(pk=cat.pk).title == "a"
    with pytest.warns(RuntimeWarning, match="unreachable"), queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 1
    settings.CACHEOPS_DEGRADE_ON_FAILURE = False
    with pytest.raises(redis.ConnectionError):
        Category.objects.get(pk=cat.pk)


def test_lane_comes_back_with_the_server(own_redis, queries):  # noqa: F811
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
    own = lane_id()
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert last_command(own) == read_command()


# ------------------------------------------------------------------ settings, clients, processes


def test_another_redis_db_gets_another_lane(redis_server):
    cat = Category.objects.create(title="a")
    lane = get_lane()
    old = lane_id()
    other = redis_server.client(db=5)
    other.flushdb()
    with override_settings(CACHEOPS_REDIS=redis_server.url_for_db(5)):
        assert get_lane() is not lane
        assert Category.objects.get(pk=cat.pk).title == "a"
        assert other.keys("*q:*")
        assert int(call("CLIENT", "INFO").split(b" db=")[1].split()[0]) == 5
        eventually(lambda: old not in connected_ids())  # the old lane's connections were closed
    assert not redis_server.client(db=0).keys("*q:*")
    assert get_lane() is not None
    assert int(call("CLIENT", "INFO").split(b" db=")[1].split()[0]) == 0
    other.flushdb()


class TracedRedis(redis.Redis):
    """A client class that sees every command: cacheops must keep sending through it."""

    seen: list[str] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.seen.append(str(args[0]))
        return super().execute_command(*args, **options)


class PlainRedis(redis.Redis):
    pass


def test_a_client_class_overriding_execute_command_keeps_the_client(settings, queries):
    settings.CACHEOPS_CLIENT_CLASS = "tests.test_lane.TracedRedis"
    assert get_lane() is None
    TracedRedis.seen.clear()
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert TracedRedis.seen.count(read_command().upper()) >= 2 and "EVALSHA" in TracedRedis.seen
    settings.CACHEOPS_CLIENT_CLASS = "tests.test_lane.PlainRedis"
    assert isinstance(get_client(), PlainRedis)
    assert get_lane() is not None


def test_a_traced_client_keeps_the_client(monkeypatch, settings, redis_server):
    """Tracing integrations wrap ``redis.Redis.execute_command`` (functools.wraps or wrapt)."""
    original = redis.Redis.execute_command
    seen: list[str] = []

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **options: Any) -> Any:
        seen.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", traced)
    settings.CACHEOPS_REDIS = redis_server.url_for_db(0)
    assert get_lane() is None
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert "EVALSHA" in seen


def test_a_cluster_client_has_no_lane(settings, redis_cluster_server, queries):
    node = redis_cluster_server.nodes[0]
    settings.CACHEOPS_CLIENT_CLASS = "redis.cluster.RedisCluster"
    settings.CACHEOPS_REDIS = f"redis://{node.host}:{node.port}/0"
    assert get_lane() is None
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0


def test_sentinel_lane_talks_to_the_master(settings, sentinel, redis_server, queries):  # noqa: F811
    settings.CACHEOPS_REDIS = {}
    settings.CACHEOPS_SENTINEL = {"locations": [sentinel], "service_name": SERVICE, "db": 0}
    assert get_lane() is not None
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    own = lane_id()
    master = redis_server.client()
    assert own in connected_ids(master)
    assert master.keys("*q:*")


def test_threads_get_their_own_replies():
    client = get_client()
    workers = 8
    for i in range(workers):
        client.set(f"t{i}", f"[]\nvalue {i}" * (i + 1))
    errors: list[str] = []
    start = threading.Barrier(workers)

    def work(i: int) -> None:
        start.wait()
        mine, theirs = f"t{i}", f"t{(i + 1) % workers}"
        expected = [
            f"[]\nvalue {i}".encode() * (i + 1),
            f"[]\nvalue {(i + 1) % workers}".encode() * ((i + 1) % workers + 1),
        ]
        data = expected[0][3:]  # what the insideout read script returns: after the stamps
        for n in range(300):
            if call("GET", mine) != expected[0]:
                errors.append(f"GET in {i}")
            if call("MGET", mine, theirs) != expected:
                errors.append(f"MGET in {i}")
            if n % 10 == 0 and run_script("read_insideout", ["", mine]) != data:
                errors.append(f"EVALSHA in {i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = {lane_id() for _ in range(workers)}
    assert len(ids) == 1  # idle again: the same (last used) connection serves one caller


def test_threads_store_and_read_through_the_lane():
    errors: list[str] = []

    def work(i: int) -> None:
        for n in range(50):
            key, value = f"k{i}:{n}", {"thread": i, "n": n}
            epochs = snapshot("lane:", ["t"])
            if not write("lane:", key, value, {"t": [{"a": str(i)}]}, 60, epochs):
                errors.append(f"write {key}")
            if read("lane:", key) != value:
                errors.append(f"read {key}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_forked_child_never_uses_the_parents_socket():
    get_client().set("f", "parent")
    parent_id = lane_id()
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process
        pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        try:
            report = {"id": lane_id(), "get": call("GET", "f"), "mget": call("MGET", "f", "none")}
            os.write(writer, pickle.dumps(report))
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as f:
        report = pickle.loads(f.read())
    os.waitpid(pid, 0)
    assert report["id"] != parent_id
    assert (report["get"], report["mget"]) == (b"parent", [b"parent", None])
    assert lane_id() == parent_id  # the parent's connection is still open and in use
    assert call("GET", "f") == b"parent"
