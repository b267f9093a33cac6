"""Fast mode (``local`` profile option): results kept in process memory, validated by the
listener's counters (CACHEOPS_LOCAL_CHECK="push", no round trip) or by one MGET of stamps per
read ("stamps"); invalidation by any process is seen."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from django.db.models import Count

from cacheops import invalidate_obj, no_invalidation
from cacheops.memory import listener, local_cache
from cacheops.redis import get_client
from tests.asyncrun import run
from tests.testapp.models import Category, Post

pytestmark = [pytest.mark.django_db(transaction=True)]
in_every_mode = pytest.mark.usefixtures("mode")


@pytest.fixture(autouse=True)
def fast(settings: Any) -> None:
    settings.CACHEOPS = {
        "testapp.category": {"ops": "all", "local": True},
        "testapp.post": {"ops": "all", "local": True},
        "testapp.*": {"ops": "all"},
    }
    local_cache.clear()


def wait_listening(timeout: float = 10.0) -> None:
    """Wait until this process' listener is subscribed (it starts on the first fast-mode read)."""
    listener.counts([])
    deadline = time.monotonic() + timeout
    while not listener._subscribed:
        assert time.monotonic() < deadline, "the fast-mode listener never subscribed"
        time.sleep(0.01)


def eventually(check, timeout: float = 5.0) -> None:
    """Poll ``check()`` until it is true (another process' write reaches us as a message)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def commands() -> dict[str, int]:
    """Calls per command since the last call (INFO commandstats of the cacheops Redis)."""
    client = get_client()
    stats = client.info("commandstats")
    client.config_resetstat()
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def rename_silently(cat: Category, title: str) -> None:
    with no_invalidation:
        Category.objects.filter(pk=cat.pk).update(title=title)


@in_every_mode
def test_hits_make_no_round_trip_while_the_listener_listens(queries):
    cat = Category.objects.create(title="a")
    wait_listening()
    assert Category.objects.get(pk=cat.pk).title == "a"  # miss: computed, stored, kept in memory
    assert Category.objects.get(pk=cat.pk).title == "a"
    commands()
    with queries() as q:
        for _ in range(3):
            assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    assert not {"get", "mget", "evalsha", "eval"} & set(commands())
    cat.title = "b"
    cat.save()  # this process' own write is seen at once
    assert Category.objects.get(pk=cat.pk).title == "b"


@in_every_mode
def test_filtered_counts_and_fetches_make_no_round_trip(queries):
    a = Category.objects.create(title="a")
    Post.objects.create(title="p1", category=a, rating=1)
    Post.objects.create(title="p2", category=a, rating=2)
    wait_listening()
    for _ in range(3):  # built, then remembered, then read through the remembered key
        assert Post.objects.filter(rating=1).count() == 1
        assert [p.title for p in Post.objects.filter(category=a, rating=2)] == ["p2"]
    commands()
    with queries() as q:
        assert Post.objects.filter(rating=1).count() == 1
        rows = list(Post.objects.filter(category=a, rating=2))
    assert q.count == 0
    assert not {"get", "mget", "evalsha", "eval"} & set(commands())
    rows[0].title = "changed in memory only"
    assert [p.title for p in Post.objects.filter(category=a, rating=2)] == ["p2"]
    Post.objects.create(title="p3", category=a, rating=1)
    assert Post.objects.filter(rating=1).count() == 2


def test_copies_are_checked_again_after_a_lost_subscription():
    cat = Category.objects.create(title="a")
    wait_listening()
    Category.objects.get(pk=cat.pk)
    era = listener._era
    get_client().client_kill_filter(_type="pubsub")  # messages may be lost until it resubscribes
    eventually(lambda: listener._era >= era + 2 and listener._subscribed)  # lost, then subscribed again
    commands()
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert commands().get("mget") == 1  # not trusted blindly: its stamps are read once
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert "mget" not in commands()  # then trusted again
    rename_silently(cat, "b")
    invalidate_obj(cat)
    assert Category.objects.get(pk=cat.pk).title == "b"


@in_every_mode
def test_hits_check_stamps_instead_of_reading_the_payload(queries, settings):
    settings.CACHEOPS_LOCAL_CHECK = "stamps"
    cat = Category.objects.create(title="a")
    assert Category.objects.get(pk=cat.pk).title == "a"  # miss: computed, stored, kept in memory
    commands()
    with queries() as q:
        for _ in range(3):
            assert Category.objects.get(pk=cat.pk).title == "a"
    assert q.count == 0
    used = commands()
    assert used.get("mget") == 3
    assert not {"get", "evalsha", "eval"} & set(used)  # no payload was fetched


@pytest.mark.parametrize("check", ["push", "stamps"])
def test_invalidation_from_another_process_is_seen(settings, check):
    settings.CACHEOPS_LOCAL_CHECK = check
    wait_listening()
    cat = Category.objects.create(title="a")
    Post.objects.create(title="p", category=cat)
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert Category.objects.count() == 1
    rename_silently(cat, "b")
    assert Category.objects.get(pk=cat.pk).title == "a"  # memory copy, still valid as far as Redis knows
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=".")
    from shared_testing.servers import get_redis_server

    env["REDIS_URL"] = get_redis_server().url
    code = (
        "import django; django.setup()\n"
        "from cacheops import invalidate_dict\n"
        "from tests.testapp.models import Category\n"
        f"invalidate_dict(Category, {{'id': {cat.pk}, 'title': 'b'}})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    if check == "push":  # heard as a message from Redis, a moment after the other process wrote
        eventually(lambda: Category.objects.get(pk=cat.pk).title == "b")
    assert Category.objects.get(pk=cat.pk).title == "b"
    # only the table the other process wrote to lost its memory copies
    assert Post.objects.get(title="p").title == "p"


@in_every_mode
def test_results_are_copies_and_saves_invalidate():
    cat = Category.objects.create(title="a")
    Post.objects.create(title="p", category=cat)
    first = Post.objects.select_related("category").get(title="p")
    again = Post.objects.select_related("category").get(title="p")
    again.title = "mutated"
    again.category.title = "mutated"
    third = Post.objects.select_related("category").get(title="p")
    assert (third.title, third.category.title) == ("p", "a")
    assert first is not third and first.category is not third.category
    assert Category.objects.values("title")[0] == {"title": "a"}
    row = Category.objects.values("title")[0]
    row["title"] = "mutated"
    assert Category.objects.values("title")[0] == {"title": "a"}
    assert Category.objects.aggregate(n=Count("id")) == {"n": 1}
    cat.title = "saved"
    cat.save()
    assert Category.objects.get(pk=cat.pk).title == "saved"
    Category.objects.create(title="second")
    assert Category.objects.aggregate(n=Count("id")) == {"n": 2}


def test_plain_rows_are_copied_with_a_state_of_their_own(queries):
    cat = Category.objects.create(title="a")
    Post.objects.create(title="p1", category=cat)
    Post.objects.create(title="p2", category=cat)
    for _ in range(3):
        rows = list(Post.objects.filter(category=cat).order_by("title"))
    with queries() as q:
        assert rows[0].category.title == "a"  # loads the related row: cached on this copy's state
    assert q.count == 1
    rows[1]._state.adding = True
    again = list(Post.objects.filter(category=cat).order_by("title"))
    assert [p.title for p in again] == ["p1", "p2"]
    assert "category" not in again[0]._state.fields_cache  # not the first copy's cached object
    assert again[1]._state.adding is False and again[1]._state.db == "default"
    assert again[0]._state is not rows[0]._state
    again[0].title = "changed"
    again[0].__dict__["extra"] = 1
    third = list(Post.objects.filter(category=cat).order_by("title"))
    assert [p.title for p in third] == ["p1", "p2"] and "extra" not in third[0].__dict__
    assert type(third) is list and all(type(p) is Post for p in third)


def test_plain_rows_with_deferred_fields_keep_them_deferred(queries):
    cat = Category.objects.create(title="a")
    Post.objects.create(title="p1", category=cat, rating=4)
    for _ in range(3):
        rows = list(Post.objects.filter(category=cat).only("title"))
    assert rows[0].get_deferred_fields() >= {"rating"}
    with queries() as q:
        assert rows[0].rating == 4  # loads the deferred column for this copy only
    assert q.count == 1
    again = list(Post.objects.filter(category=cat).only("title"))
    assert "rating" in again[0].get_deferred_fields()


@in_every_mode
def test_memory_is_bounded_lru(settings, queries):
    settings.CACHEOPS_LOCAL_MAX_ENTRIES = 2
    cats = [Category.objects.create(title=str(i)) for i in range(3)]
    for cat in cats:
        Category.objects.get(pk=cat.pk)
    Category.objects.get(pk=cats[1].pk)  # now the most recent
    assert len(local_cache) == 2
    commands()
    Category.objects.get(pk=cats[1].pk)
    Category.objects.get(pk=cats[2].pk)
    assert not {"get", "evalsha"} & set(commands())
    with queries() as q:
        Category.objects.get(pk=cats[0].pk)  # evicted from memory: read from Redis, not the database
    assert q.count == 0
    assert len(local_cache) == 2


def test_threads_share_the_memory_safely():
    cats = [Category.objects.create(title=f"t{i}") for i in range(5)]
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(40):
                for cat in cats:
                    assert Category.objects.get(pk=cat.pk).title.startswith("t")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    cats[0].title = "t-changed"
    cats[0].save()
    for t in threads:
        t.join()
    assert errors == []
    assert Category.objects.get(pk=cats[0].pk).title == "t-changed"


@in_every_mode
def test_async_reads_use_the_memory_too(settings):
    settings.CACHEOPS_LOCAL_CHECK = "stamps"
    cat = Category.objects.create(title="a")

    async def read() -> str:
        return (await Category.objects.aget(pk=cat.pk)).title

    assert run(read()) == "a"
    rename_silently(cat, "b")
    commands()
    assert run(read()) == "a"
    used = commands()
    assert used.get("mget") == 1 and "get" not in used
    invalidate_obj(cat)
    assert run(read()) == "b"
    settings.CACHEOPS_LOCAL_CHECK = "push"
    wait_listening()
    assert run(read()) == "b"
    assert run(read()) == "b"
    commands()
    assert run(read()) == "b"
    assert not {"get", "mget"} & set(commands())


def test_redis_down_degrades(settings):
    cat = Category.objects.create(title="a")
    Category.objects.get(pk=cat.pk)
    settings.CACHEOPS_REDIS = "redis://127.0.0.1:9/0"
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    rename_silently(cat, "b")
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert Category.objects.get(pk=cat.pk).title == "b"  # memory is never trusted unchecked


# ------------------------------------------------------------------ what a hit skips, and when not


def test_a_transaction_that_has_written_reads_its_own_rows_not_memory(queries):
    """A hit asks whether its database is in a dirty transaction only while an atomic block is open
    somewhere; inside one that has written, reads go to the database, as on the plain path."""
    from django.db import transaction

    from cacheops.transaction import any_block_open

    cat = Category.objects.create(title="a")
    wait_listening()
    assert Category.objects.get(pk=cat.pk).title == "a"
    assert Category.objects.get(pk=cat.pk).title == "a"  # kept in memory
    assert not any_block_open()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        assert any_block_open()
        with queries() as q:
            assert Category.objects.get(pk=cat.pk).title == "a"  # clean transaction: from memory
        assert q.count == 0
        Category.objects.filter(pk=cat.pk).update(title="uncommitted")
        with transaction.atomic():  # a savepoint: still dirty
            assert Category.objects.get(pk=cat.pk).title == "uncommitted"
        assert Category.objects.get(pk=cat.pk).title == "uncommitted"
        assert Category.objects.filter(pk=cat.pk).count() == 1
        raise Undo
    assert not any_block_open()
    with queries() as q:
        assert Category.objects.get(pk=cat.pk).title == "a"  # rolled back: memory holds again
    assert q.count == 0


def test_blocks_that_fail_to_open_or_close_are_not_left_counted():
    from django.db import transaction

    from cacheops.transaction import any_block_open

    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic(durable=True):  # refused in __enter__
            pass
        assert any_block_open()
    assert not any_block_open()
    with pytest.raises(ZeroDivisionError), transaction.atomic(), transaction.atomic():
        raise ZeroDivisionError
    assert not any_block_open()

    @transaction.atomic  # one Atomic object, entered once per call
    def nested(depth: int) -> bool:
        return any_block_open() if depth == 0 else nested(depth - 1)

    assert nested(3)
    assert not any_block_open()


def test_a_block_open_in_another_thread_leaves_hits_here_alone(queries):
    """The count is per process; whether *this* thread's connection is dirty is still checked."""
    from django.db import connections, transaction

    from cacheops.transaction import any_block_open

    cat = Category.objects.create(title="a")
    wait_listening()
    Category.objects.get(pk=cat.pk)
    plain = Category.objects.nocache().get(pk=cat.pk)
    opened, done = threading.Event(), threading.Event()

    def other() -> None:
        try:
            with transaction.atomic():
                opened.set()
                done.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert opened.wait(10)
        assert any_block_open()
        with queries() as q:
            got = Category.objects.get(pk=cat.pk)
        assert q.count == 0
        assert (got.pk, got.title, got._state.db, got._state.adding) == (
            plain.pk,
            plain.title,
            plain._state.db,
            plain._state.adding,
        )
    finally:
        done.set()
        thread.join()
    assert not any_block_open()


def test_hits_send_cache_read_to_receivers_when_there_are_some():
    from cacheops.signals import cache_read

    cat = Category.objects.create(title="a")
    wait_listening()
    Category.objects.get(pk=cat.pk)
    Category.objects.get(pk=cat.pk)  # kept in memory, read through the remembered key from now on
    heard: list[tuple[Any, bool]] = []

    def receiver(sender: Any, func: Any, hit: bool, **kwargs: Any) -> None:
        heard.append((sender, hit))

    cache_read.connect(receiver)
    try:
        assert Category.objects.get(pk=cat.pk).title == "a"
        assert Category.objects.filter(title="a").count() == 1
        assert Category.objects.filter(title="a").count() == 1
    finally:
        cache_read.disconnect(receiver)
    assert heard[0] == (Category, True)
    assert heard[-1] == (Category, True)
    assert all(sender is Category for sender, _ in heard)
    Category.objects.get(pk=cat.pk)
    assert len(heard) == 3  # none sent once it is disconnected


def test_a_copy_found_unchanged_is_dropped_by_the_next_write_of_its_table(queries):
    """Hits remember that nothing was counted since they last found a copy's counters unchanged;
    any invalidation makes the next hit compare the counters again."""
    a = Category.objects.create(title="a")
    post = Post.objects.create(title="p", category=a)
    wait_listening()
    for _ in range(3):
        assert Post.objects.get(pk=post.pk).title == "p"
    Category.objects.create(title="another table")  # counted: the copy is compared, still good
    with queries() as q:
        assert Post.objects.get(pk=post.pk).title == "p"
        assert Post.objects.get(pk=post.pk).title == "p"
    assert q.count == 0
    post.title = "saved"
    post.save()
    assert Post.objects.get(pk=post.pk).title == "saved"
    with no_invalidation:
        Post.objects.filter(pk=post.pk).update(title="silent")
    assert Post.objects.get(pk=post.pk).title == "saved"
    invalidate_obj(post)
    assert Post.objects.get(pk=post.pk).title == "silent"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_forked_child_trusts_no_copy_until_its_own_listener_listens():
    import warnings

    cat = Category.objects.create(title="a")
    wait_listening()
    Category.objects.get(pk=cat.pk)
    Category.objects.get(pk=cat.pk)
    entries = list(local_cache._data.values())
    assert entries and all(listener.trusts(entry) for entry in entries)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process
        pid = os.fork()
    if pid == 0:  # the child: its parent's listener thread does not run here
        os._exit(1 if any(listener.trusts(entry) for entry in entries) else 0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert all(listener.trusts(entry) for entry in entries)  # the parent's copies are still good
