"""Redis unreachable: the user's on_commit callbacks still run, a silent partition stops fast
mode from trusting its memory, and invalidations missed during an outage are sent again when
Redis answers (a real redis-server behind a real TCP proxy that stops forwarding or refuses)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from cacheops import invalidate_model, no_invalidation
from cacheops.memory import listener, local_cache
from tests.tcpproxy import TcpProxy
from tests.testapp.models import Category, Post

pytestmark = pytest.mark.django_db(transaction=True)


class Outage:
    """A redis-server of the test's own, reached through a :class:`TcpProxy`."""

    def __init__(self) -> None:
        from shared_testing.servers import start_redis_server

        self.server = start_redis_server()
        self.proxy = TcpProxy(self.server.port)
        self.real = self.server.client()  # straight to the server, as another process would be

    def entries(self) -> list[bytes]:
        """The cached querysets' keys held by the server."""
        return [k for k in self.real.keys("*") if b"q:" in k]

    def close(self) -> None:
        self.proxy.close()
        self.server.stop()


@pytest.fixture
def outage(settings: Any) -> Iterator[Outage]:
    own = Outage()
    settings.CACHEOPS_REDIS = {
        "host": "127.0.0.1",
        "port": own.proxy.port,
        "socket_timeout": 1,
        "socket_connect_timeout": 1,
        "retry": Retry(NoBackoff(), 0),  # a failure is reported at once
    }
    yield own
    own.proxy.forward()
    own.close()
    from cacheops.invalidation import missed

    missed.take()  # what this test's server never got is nobody else's business


def titles() -> list[str]:
    return [c.title for c in Category.objects.cache().order_by("pk")]


def eventually(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_user_callbacks_run_when_redis_is_down_at_commit(outage, settings):
    settings.CACHEOPS_DEGRADE_ON_FAILURE = False
    cat = Category.objects.create(title="a")
    assert titles() == ["a"]
    ran = []
    with pytest.raises(redis.ConnectionError), transaction.atomic():
        cat.title = "b"
        cat.save()
        transaction.on_commit(lambda: ran.append("user callback"))
        outage.proxy.refuse()
    assert ran == ["user callback"]  # ran, and then the failure was raised
    assert Category.objects.nocache().get(pk=cat.pk).title == "b"  # committed
    outage.proxy.forward()
    assert titles() == ["b"]  # the missed invalidation went first


def test_missed_invalidations_are_sent_when_redis_answers_again(outage, settings):
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    cat = Category.objects.create(title="a")
    assert titles() == ["a"]
    assert outage.entries()
    outage.proxy.refuse()
    with pytest.warns(RuntimeWarning, match="unreachable"):
        cat.title = "b"
        cat.save()
    assert outage.entries()  # another process reading now would get "a"
    outage.proxy.forward()
    # nothing else is called here: the process' own retrying thread sends the invalidation
    eventually(lambda: not outage.entries(), timeout=10)
    assert titles() == ["b"]


def test_a_read_after_the_outage_sends_the_missed_invalidations_first(outage, settings):
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    cat = Category.objects.create(title="a")
    assert titles() == ["a"]
    outage.proxy.refuse()
    with pytest.warns(RuntimeWarning):
        cat.title = "b"
        cat.save()
    with pytest.warns(RuntimeWarning):
        invalidate_model(Post)  # a whole table missed
    outage.proxy.forward()
    assert titles() == ["b"]


def test_a_missed_invalidate_all_flushes_when_redis_is_back(outage, settings):
    from cacheops import invalidate_all

    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    Category.objects.create(title="a")
    assert titles() == ["a"]
    with no_invalidation:
        Category.objects.update(title="b")
    outage.proxy.refuse()
    with pytest.warns(RuntimeWarning):
        invalidate_all()
    outage.proxy.forward()
    assert titles() == ["b"]


def test_the_journal_is_bounded():
    from cacheops.missed import MAX_ROWS, MAX_TABLES, MissedInvalidations

    journal = MissedInvalidations()
    journal.record("default", {"t": ([{"id": "1"}], True)})
    journal.record("default", {"t": ([{"id": "1"}, {"id": "2"}], True)})
    assert journal.take().tables == {("default", "t"): [{"id": "1"}, {"id": "2"}]}
    journal.record("default", {"t": ([{"id": str(i)} for i in range(MAX_ROWS + 1)], True)})
    assert journal.take().tables == {("default", "t"): None}  # the whole table
    journal.record("other", {"t": ([], False), "u": ([{"id": "1"}], True)})
    journal.record("other", {"u": ([{"id": "2"}], True)})
    assert journal.take().tables == {("other", "t"): None, ("other", "u"): [{"id": "1"}, {"id": "2"}]}
    for i in range(MAX_TABLES + 1):
        journal.record("default", {f"t{i}": ([{"id": "1"}], True)})
    taken = journal.take()
    assert taken.everything and not taken.tables  # too much to keep: everything goes
    journal.restore(taken)
    journal.record("default", {"t": ([{"id": "1"}], True)})
    assert journal.take().everything


# ------------------------------------------------------------------ fast mode, silent partition


def _wait_listening(timeout: float = 10.0) -> None:
    listener.counts([])
    eventually(lambda: listener._subscribed, timeout)


def _invalidate_from_another_process(real: Any, cat_pk: int, title: str) -> None:
    """What another process' save of the category sends: the invalidation script, run on a
    connection of its own straight to the server (not through the proxy)."""
    from importlib import resources

    script = resources.files("cacheops").joinpath("lua/invalidate.lua").read_text()
    rows = json.dumps([{"id": str(cat_pk), "title": title}])
    assert real.eval(script, 0, "", Category._meta.db_table, rows) >= 1  # it dropped the entry


def test_fast_mode_stops_trusting_its_memory_during_a_silent_partition(outage, settings):
    settings.CACHEOPS = {"testapp.category": {"ops": "all", "local": True}, "testapp.*": {"ops": "all"}}
    settings.CACHEOPS_LOCAL_CHECK = "push"
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    local_cache.clear()
    cat = Category.objects.create(title="a")
    _wait_listening()
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert Category.objects.get(pk=cat.pk).title == "a"  # from memory
    with no_invalidation:
        Category.objects.filter(pk=cat.pk).update(title="b")
    outage.proxy.silence()  # packets dropped, nothing reset: the listener hears nothing
    _invalidate_from_another_process(outage.real, cat.pk, "b")
    # the listener's pings go unanswered: one trust window (two seconds) later the memory copy
    # is no longer served; Redis doesn't answer either, so the database does
    time.sleep(3)
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert Category.objects.get(pk=cat.pk).title == "b"
    outage.proxy.forward()
    _wait_listening()
    assert Category.objects.get(pk=cat.pk).title == "b"


def test_the_fast_mode_listener_logs_losing_redis_once_and_listening_again(outage, settings, caplog):
    settings.CACHEOPS = {"testapp.category": {"ops": "all", "local": True}, "testapp.*": {"ops": "all"}}
    settings.CACHEOPS_LOCAL_CHECK = "push"
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    local_cache.clear()
    _wait_listening()
    caplog.set_level(logging.INFO, logger="cacheops.memory")

    def logged(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "cacheops.memory" and r.levelno == level]

    outage.proxy.refuse()  # the listener's connection is reset, and so is every reconnection
    eventually(lambda: logged(logging.WARNING), timeout=10)
    time.sleep(2)  # several attempts to reconnect, with their backoff
    warnings = logged(logging.WARNING)
    assert len(warnings) == 1, warnings  # once per outage, not once per attempt
    assert "lost Redis" in warnings[0]
    assert not logged(logging.INFO)
    outage.proxy.forward()
    _wait_listening()
    eventually(lambda: logged(logging.INFO), timeout=10)
    assert "listening again" in logged(logging.INFO)[0]
