"""Fast mode under stress: another process writes while this one reads from process memory.

A second Python process (Django set up on the same database and Redis) saves rows on request;
after its ``save()`` has returned, and (with ``CACHEOPS_LOCAL_CHECK="push"``) once this
process' listener has heard everything published until then, every read here must equal the
same read with ``.nocache()``: while a miss is being filled, while a Redis payload is being
kept in memory, after the listener's connection was killed, and in a forked child.  Also: reads
in an event loop inside a transaction that has written (``async_to_sync`` inside ``atomic()``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections, transaction

from cacheops.memory import CHANNEL, listener, local_cache
from cacheops.redis import get_client
from cacheops.store import MISSING
from cacheops.transaction import any_block_open
from tests.testapp.models import Category, Post

pytestmark = [pytest.mark.django_db(transaction=True)]

WRITER = r"""
import json, os, sys
import tests.settings as s
s.DATABASES = {"default": json.loads(os.environ["FAST_STRESS_DB"])}
import django
django.setup()
from django.test.utils import override_settings
from cacheops import invalidate_all
from tests.testapp.models import Category
print("ready", flush=True)
mode = None
for line in sys.stdin:
    how, arg, title = line.rstrip("\n").split(" ", 2)
    if how == "mode":
        if mode is not None:
            mode.disable()
        mode = override_settings(CACHEOPS_INSIDEOUT=arg == "insideout")
        mode.enable()
    elif how == "save":
        cat = Category.objects.nocache().get(pk=int(arg))
        cat.title = title
        cat.save()
    elif how == "update":  # invalidated_update(): one UPDATE, invalidated
        Category.objects.filter(pk=int(arg)).invalidated_update(title=title)
    elif how == "flush":  # a write cacheops can't see, then invalidate_all()
        Category.objects.filter(pk=int(arg)).update(title=title)
        invalidate_all()
    print("done", flush=True)
"""


class Writer:
    """Another process that saves a category's title when asked (and returns once saved)."""

    def __init__(self, db: dict[str, Any]) -> None:
        from shared_testing.servers import get_redis_server

        env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=".")
        env["REDIS_URL"] = get_redis_server().url
        env["FAST_STRESS_DB"] = json.dumps(db)
        env.pop("CACHEOPS_INSIDEOUT", None)
        env.pop("CACHEOPS_PREFIX", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        line = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert line, f"the writer process died ({self.proc.poll()})"
        return line

    def _ask(self, how: str, arg: Any, title: str = "") -> None:
        self.proc.stdin.write(f"{how} {arg} {title}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        assert self._line() == "done"

    def save(self, pk: int, title: str, how: str = "save") -> None:
        """Write the title (``save``, ``update``: invalidated_update(), ``flush``: update() then
        invalidate_all()); returns once the other process has."""
        self._ask(how, pk, title)

    def mode(self, name: str) -> None:
        self._ask("mode", name)

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(10)


@pytest.fixture(scope="module")
def writer(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Writer]:
    with django_db_blocker.unblock():
        config = connection.settings_dict
        db = {k: config[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")}
    w = Writer(db)
    yield w
    w.close()


@pytest.fixture(autouse=True)
def fast(settings: Any) -> None:
    settings.CACHEOPS = {
        "testapp.category": {"ops": "all", "local": True},
        "testapp.post": {"ops": "all", "local": True},
        "testapp.*": {"ops": "all"},
    }
    local_cache.clear()


def wait_listening(timeout: float = 10.0) -> None:
    listener.counts([])  # starts the listener in this process
    deadline = time.monotonic() + timeout
    while not listener._subscribed:
        assert time.monotonic() < deadline, "the fast-mode listener never subscribed"
        time.sleep(0.005)


def heard_everything(timeout: float = 10.0) -> None:
    """Return once this process' listener has heard every message published so far (a marker
    published now arrives after them; published again if the listener was not subscribed)."""
    marker = f"fast-stress-marker-{uuid.uuid4().hex}"
    client = get_client()
    deadline = time.monotonic() + timeout
    while True:
        client.publish(CHANNEL, marker)
        again = time.monotonic() + 0.1
        while time.monotonic() < again:
            if listener._counters.get(marker):
                return
            time.sleep(0.001)
        assert time.monotonic() < deadline, "the listener never heard the marker"


def settle(check: str) -> None:
    """What "after the write" means for the check: at once for stamps, once heard for push."""
    if check == "push":
        heard_everything()


def reads(cat: Category) -> dict[str, Any]:
    """Some reads of the category's table, cached (fast mode) and not."""
    cached = {
        "get": Category.objects.get(pk=cat.pk).title,
        "fetch": [c.title for c in Category.objects.filter(pk=cat.pk)],
        "count": Category.objects.filter(title__startswith="t").count(),
        "values": list(Category.objects.filter(pk__in=[cat.pk]).values_list("title", flat=True)),
    }
    plain = {
        "get": Category.objects.nocache().get(pk=cat.pk).title,
        "fetch": [c.title for c in Category.objects.nocache().filter(pk=cat.pk)],
        "count": Category.objects.nocache().filter(title__startswith="t").count(),
        "values": list(Category.objects.nocache().filter(pk__in=[cat.pk]).values_list("title", flat=True)),
    }
    assert cached == plain
    return cached


@pytest.mark.parametrize("insideout", [False, True], ids=["classic", "insideout"])
@pytest.mark.parametrize("check", ["push", "stamps"])
def test_writes_of_another_process_are_seen_by_the_next_read(settings, writer, check, insideout):
    settings.CACHEOPS_LOCAL_CHECK = check
    settings.CACHEOPS_INSIDEOUT = insideout
    writer.mode("insideout" if insideout else "classic")
    wait_listening()
    cat = Category.objects.create(title="t0")
    for i in range(1, 16):
        how = ("save", "update", "flush")[i % 3]
        for _ in range(2):  # a miss, then from memory
            assert reads(cat)["get"] == f"t{i - 1}"
        writer.save(cat.pk, f"t{i}" if i % 2 else f"x{i}", how)  # "x": the count changes too
        settle(check)
        assert reads(cat)["get"] == (f"t{i}" if i % 2 else f"x{i}")
        writer.save(cat.pk, f"t{i}", how)
        settle(check)
    writer.mode("classic")


@pytest.mark.parametrize("check", ["push", "stamps"])
def test_threads_reading_between_writes_of_another_process(settings, writer, check):
    """Threads share the memory copies: once a write of the other process is settled, every
    thread's next reads see it."""
    import threading

    from django.db import connections

    settings.CACHEOPS_LOCAL_CHECK = check
    wait_listening()
    cat = Category.objects.create(title="t0")
    post = Post.objects.create(title="p", category=cat)
    phase = threading.Barrier(4, timeout=20)
    expected: list[str] = ["t0"]
    seen: list[tuple[str, str]] = []

    def reader() -> None:
        try:
            for _ in range(10):
                phase.wait()  # the write is settled: expected[0] holds what it wrote
                for _ in range(20):
                    title = Category.objects.get(pk=cat.pk).title
                    if title != expected[0]:
                        seen.append((expected[0], title))
                    Post.objects.get(pk=post.pk)  # another table: its copy stays
                    Category.objects.filter(pk=cat.pk).count()
                phase.wait()  # done: the next write may start
        except threading.BrokenBarrierError:  # the main thread failed: its failure is reported
            pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for i in range(10):
            phase.wait()
            for _ in range(20):
                assert Category.objects.get(pk=cat.pk).title == expected[0]
            phase.wait()
            expected[0] = f"t{i + 1}"
            writer.save(cat.pk, expected[0])
            settle(check)
    finally:
        phase.abort()  # readers still waiting (this thread failed) stop waiting
        for thread in threads:
            thread.join(30)
    assert seen == []


class WriteOnce:
    """A hook that asks the writer process to save once, the next time it is called."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.armed: tuple[int, str] | None = None
        self.fired = 0

    def arm(self, pk: int, title: str) -> None:
        self.armed = (pk, title)

    def __call__(self) -> None:
        if self.armed is not None:
            pk, title = self.armed
            self.armed = None
            self.writer.save(pk, title)
            self.fired += 1


class HookedPickle:
    """CACHEOPS_SERIALIZER: pickle, whose dumps() runs a hook first (a miss computed, not stored yet)
    and whose loads() too (a payload read from Redis, not kept in process memory yet)."""

    def __init__(self, on_dumps: WriteOnce, on_loads: WriteOnce) -> None:
        import pickle

        self.pickle = pickle
        self.on_dumps = on_dumps
        self.on_loads = on_loads

    def dumps(self, value: Any) -> bytes:
        self.on_dumps()
        return self.pickle.dumps(value, self.pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        self.on_loads()
        return self.pickle.loads(data)


@pytest.mark.parametrize("check", ["push", "stamps"])
def test_a_write_while_a_miss_is_computed_is_not_kept(settings, writer, check):
    """The other process saves after this one's query has read the old row and before the result is
    stored (in Redis, then in memory): the old row must not be served afterwards."""
    settings.CACHEOPS_LOCAL_CHECK = check
    hook = WriteOnce(writer)
    settings.CACHEOPS_SERIALIZER = HookedPickle(hook, WriteOnce(writer))
    wait_listening()
    cat = Category.objects.create(title="t0")
    for i in range(1, 11):
        assert reads(cat)["get"] == f"t{i - 1}"  # kept in memory
        writer.save(cat.pk, f"t{i - 1}")  # the same title, invalidated: the next read is a miss
        settle(check)
        hook.arm(cat.pk, f"t{i}")
        assert Category.objects.get(pk=cat.pk).title == f"t{i - 1}"  # read before the save
        assert hook.fired == i
        settle(check)
        assert reads(cat)["get"] == f"t{i}"


@pytest.mark.parametrize("check", ["push", "stamps"])
def test_a_write_while_a_redis_payload_is_kept_in_memory_is_seen(settings, writer, check):
    settings.CACHEOPS_LOCAL_CHECK = check
    hook = WriteOnce(writer)
    settings.CACHEOPS_SERIALIZER = HookedPickle(WriteOnce(writer), hook)
    wait_listening()
    cat = Category.objects.create(title="t0")
    for i in range(1, 11):
        assert reads(cat)["get"] == f"t{i - 1}"  # in Redis and in memory
        local_cache.clear()  # in Redis only: the next read keeps the payload in memory
        hook.arm(cat.pk, f"t{i}")
        assert Category.objects.get(pk=cat.pk).title == f"t{i - 1}"  # read before the save
        assert hook.fired == i
        settle(check)
        assert reads(cat)["get"] == f"t{i}"


def test_a_write_while_the_listener_is_disconnected_is_not_missed(writer):
    """The listener's connection is killed right before the other process writes (its message is
    lost): once the listener listens again, no copy made before is trusted unchecked."""
    wait_listening()
    cat = Category.objects.create(title="t0")
    post = Post.objects.create(title="p", category=cat)
    client = get_client()
    for i in range(1, 11):
        for _ in range(2):
            assert reads(cat)["get"] == f"t{i - 1}"
            assert Post.objects.get(pk=post.pk).title == "p"
        client.client_kill_filter(_type="pubsub")
        writer.save(cat.pk, f"t{i}")
        heard_everything()
        assert reads(cat)["get"] == f"t{i}"
        assert Post.objects.get(pk=post.pk).title == "p"


def test_a_forked_child_does_not_serve_its_inherited_copy(writer):
    wait_listening()
    cat = Category.objects.create(title="t0")
    for _ in range(3):
        assert Category.objects.get(pk=cat.pk).title == "t0"
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process
        pid = os.fork()
    if pid == 0:  # the child: wait for the parent's write, then read
        code = 1
        try:
            os.close(go_w)
            os.close(out_r)
            _inherited = connection.connection  # kept, never closed: it is the parent's session
            connection.connection = None  # this process opens its own
            os.read(go_r, 1)
            titles = [Category.objects.get(pk=cat.pk).title for _ in range(3)]
            os.write(out_w, json.dumps(titles).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(out_w)
    try:
        writer.save(cat.pk, "t1")
        heard_everything()
        here = Category.objects.get(pk=cat.pk).title
    finally:  # the child reads now (and is reaped whatever happened here)
        os.write(go_w, b"x")
        os.close(go_w)
        with os.fdopen(out_r) as f:
            titles = json.loads(f.read() or "null")
        _, status = os.waitpid(pid, 0)
    assert here == "t1"
    assert os.waitstatus_to_exitcode(status) == 0
    assert titles == ["t1", "t1", "t1"]


# ------------------------------------------------------------------ transactions


class Undo(Exception):
    """Raised to roll a block back."""


@pytest.mark.parametrize("local", [True, False], ids=["fast", "classic"])
def test_reads_in_an_event_loop_inside_a_transaction_see_its_writes(settings, local):
    """A coroutine run with async_to_sync() inside atomic(): Django runs its queries in this thread
    (inside the transaction), so a cached read must see the uncommitted write too, and after the
    rollback nobody may see it."""
    if not local:
        settings.CACHEOPS = {"testapp.*": {"ops": "all"}}
    cat = Category.objects.create(title="a")
    for _ in range(3):
        assert Category.objects.get(pk=cat.pk).title == "a"
        assert Category.objects.filter(title="a").count() == 1

    async def read() -> tuple[Any, Any]:
        cached = (
            (await Category.objects.aget(pk=cat.pk)).title,
            await Category.objects.filter(title="a").acount(),
        )
        plain = (
            (await Category.objects.nocache().aget(pk=cat.pk)).title,
            await Category.objects.nocache().filter(title="a").acount(),
        )
        return cached, plain

    with pytest.raises(Undo), transaction.atomic():
        assert async_to_sync(read)() == (("a", 1), ("a", 1))  # a clean transaction: the cache serves
        Category.objects.filter(pk=cat.pk).update(title="dirty")
        cached, plain = async_to_sync(read)()
        assert plain == ("dirty", 0)
        assert cached == plain
        raise Undo
    assert not any_block_open()
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert async_to_sync(read)() == (("a", 1), ("a", 1))


@pytest.mark.parametrize("local", [True, False], ids=["fast", "classic"])
def test_reads_in_an_event_loop_inside_a_manual_transaction_see_its_writes(settings, local):
    """As inside atomic(): between set_autocommit(False) and rollback(), a coroutine run with
    async_to_sync() reads what the transaction wrote, and after the rollback nobody sees it."""
    if not local:
        settings.CACHEOPS = {"testapp.*": {"ops": "all"}}
    cat = Category.objects.create(title="a")
    for _ in range(2):
        assert Category.objects.get(pk=cat.pk).title == "a"

    async def read() -> str:
        return (await Category.objects.aget(pk=cat.pk)).title

    transaction.set_autocommit(False)
    try:
        Category.objects.filter(pk=cat.pk).update(title="manual")
        assert async_to_sync(read)() == "manual"
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert not any_block_open()
    assert async_to_sync(read)() == "a"
    assert Category.objects.get(pk=cat.pk).title == "a"


def test_a_block_open_in_another_thread_leaves_the_loops_reads_native(monkeypatch):
    """Only a block opened by the coroutine's own caller sends the loop's reads to Django's
    fallback: one open in another thread (another request's transaction) doesn't, and its writes
    stay invisible to the loop until committed, as with the database itself."""
    import threading

    from cacheops import aio, reads

    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"
    native: list[bool] = []  # per aread/aread_remembered: whether the cache answered in the loop

    def spied(func: Any) -> Any:
        async def spy(*args: Any, **kwargs: Any) -> Any:
            value = await func(*args, **kwargs)
            native.append(value is not MISSING)
            return value

        return spy

    monkeypatch.setattr(aio, "aread", spied(reads.aread))
    monkeypatch.setattr(aio, "aread_remembered", spied(reads.aread_remembered))

    async def read() -> str:
        return (await Category.objects.aget(pk=cat.pk)).title

    opened, done = threading.Event(), threading.Event()

    def other_request() -> None:
        try:
            with pytest.raises(Undo), transaction.atomic():
                Category.objects.filter(pk=cat.pk).update(title="other")
                opened.set()
                done.wait(10)
                raise Undo
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_request)
    thread.start()
    try:
        assert opened.wait(10)
        assert any_block_open()
        assert asyncio.run(read()) == "a"  # the other transaction's write is not committed
        assert native and native[-1]
        with pytest.raises(Undo), transaction.atomic():
            native.clear()
            assert async_to_sync(read)() == "a"
            assert native == [False] * len(native)  # this caller's block: the fallback read it
            raise Undo
    finally:
        done.set()
        thread.join()
    assert not any_block_open()


def test_blocks_that_fail_to_open_or_to_commit_are_counted_as_they_are(tmp_path):
    """A database that can't be reached when a block opens, and a commit refused by the database
    (a deferred foreign key): afterwards the count says what is open, and a block opened then is
    seen by reads inside it."""
    cat = Category.objects.create(title="a")
    for _ in range(2):
        assert Category.objects.get(pk=cat.pk).title == "a"
    config = connection.settings_dict
    name = config["NAME"]
    if connection.vendor == "sqlite":
        connection.close()
        config["NAME"] = str(tmp_path / "missing" / "db.sqlite3")  # its directory does not exist
        try:
            with pytest.raises(Exception, match="unable to open"), transaction.atomic():
                pass  # pragma: no cover - __enter__ fails
            assert not any_block_open()
        finally:
            connection.close()
            config["NAME"] = name
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="durable"), transaction.atomic(durable=True):
            pass  # pragma: no cover - refused in __enter__
        assert any_block_open()
    assert not any_block_open()
    if connection.vendor == "sqlite":
        from django.db import IntegrityError

        with pytest.raises(IntegrityError), transaction.atomic():
            Post.objects.create(title="orphan", category_id=cat.pk + 1000)  # checked at the commit
            assert any_block_open()
        assert not any_block_open()
    assert Post.objects.count() == Post.objects.nocache().count() == 0
    # the count is right: a block opened now is seen by a read inside it that follows a write
    with pytest.raises(Undo), transaction.atomic():
        Category.objects.filter(pk=cat.pk).update(title="dirty")
        assert Category.objects.get(pk=cat.pk).title == "dirty"
        raise Undo
    assert Category.objects.get(pk=cat.pk).title == "a"


@pytest.mark.parametrize("check", ["push", "stamps"])
def test_own_uncommitted_writes_are_read_and_never_kept(settings, writer, check):
    """A transaction reads its own writes (savepoints, rollbacks of them, remembered keys of get()
    and of deferred filters); what it read is seen by nobody after the rollback, even once another
    process has written to the table meanwhile."""
    settings.CACHEOPS_LOCAL_CHECK = check
    wait_listening()
    cat = Category.objects.create(title="t0")
    other = Category.objects.create(title="t-other")
    for _ in range(3):
        reads(cat)
    with pytest.raises(Undo), transaction.atomic():
        reads(cat)  # clean: from memory
        with transaction.atomic():
            Category.objects.filter(pk=cat.pk).update(title="t-sp")
            assert reads(cat)["get"] == "t-sp"
        assert reads(cat)["get"] == "t-sp"
        with pytest.raises(Undo), transaction.atomic():
            Category.objects.filter(pk=cat.pk).update(title="t-rolled-back")
            assert reads(cat)["get"] == "t-rolled-back"
            raise Undo
        assert reads(cat)["get"] == "t-sp"  # the outer write is still there: dirty still
        raise Undo
    assert reads(cat)["get"] == "t0"
    writer.save(other.pk, "t-other-2")  # another row of the same table
    settle(check)
    assert reads(cat)["get"] == "t0"
    assert reads(other)["get"] == "t-other-2"


# ------------------------------------------------------------------ fork while a lock is held


def _in_forked_child(hold: Any, read: Any) -> int:
    """The exit code of a child forked while ``hold`` (a lock of this process) is held by this
    thread, as by another thread in the middle of its work at the fork, after running ``read()``
    (killed by SIGALRM if it hangs)."""
    import signal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process
        with hold:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    signal.alarm(5)
                    _inherited = connection.connection  # kept, never closed: the parent's session
                    connection.connection = None  # this process opens its own
                    read()
                    code = 0
                finally:
                    os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_child_forked_while_the_memory_lock_is_held_can_read():
    cat = Category.objects.create(title="a")
    for _ in range(2):
        Category.objects.get(pk=cat.pk)
    assert _in_forked_child(local_cache._lock, lambda: Category.objects.get(pk=cat.pk)) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_child_forked_while_the_block_count_lock_is_held_can_open_blocks():
    from cacheops import transaction as cacheops_transaction

    def write_in_a_block() -> None:
        with transaction.atomic():
            Category.objects.create(title="in the child")

    assert _in_forked_child(cacheops_transaction._count_lock, write_in_a_block) == 0


# ------------------------------------------------------------------ local_get


def test_local_get_does_not_keep_a_row_read_before_a_save_of_this_process(settings, monkeypatch):
    """``local_get`` results are dropped when this process writes to the table: also a get() whose
    query ran before another thread saved, and which finishes after that save's invalidation."""
    import threading

    from django.db import connections

    from tests.testapp.models import Local

    settings.CACHEOPS = {"testapp.local": {"local_get": True}, "testapp.*": {"ops": "all"}}
    obj = Local.objects.create(tag=1)
    armed = [True]
    from_db = Local.from_db.__func__  # type: ignore[attr-defined]

    def save_in_another_thread() -> None:
        try:
            row = Local.objects.nocache().get(pk=obj.pk)
            row.tag = 2
            row.save()
        finally:
            connections.close_all()

    def hooked(cls: Any, db: Any, field_names: Any, values: Any, **kwargs: Any) -> Any:
        if armed:  # the row has been read: another thread saves it (committed, invalidated)
            armed.clear()
            thread = threading.Thread(target=save_in_another_thread)
            thread.start()
            thread.join()
        return from_db(cls, db, field_names, values, **kwargs)

    monkeypatch.setattr(Local, "from_db", classmethod(hooked))
    assert Local.objects.get(pk=obj.pk).tag == 1  # read before the save returned
    assert Local.objects.nocache().get(pk=obj.pk).tag == 2
    assert Local.objects.get(pk=obj.pk).tag == 2
