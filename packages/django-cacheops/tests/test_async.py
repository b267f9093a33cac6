"""Native async reads: hits come from redis.asyncio in the event loop thread, misses fall back to
Django's async path (a worker thread) and store the result."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db.models import Count, Sum
from django.http import JsonResponse
from django.urls import path

from cacheops import invalidate_obj, no_invalidation
from cacheops.signals import cache_read
from tests.asyncrun import run
from tests.testapp.models import Category, Local, Post

pytestmark = [pytest.mark.django_db(transaction=True)]


class Reads:
    """Records (hit, thread id) of every cache read."""

    def __init__(self) -> None:
        self.events: list[tuple[bool, int]] = []

    def __call__(self, sender: Any, hit: bool, **kwargs: Any) -> None:
        self.events.append((hit, threading.get_ident()))


@pytest.fixture
def reads() -> Any:
    recorder = Reads()
    cache_read.connect(recorder, weak=False)
    yield recorder
    cache_read.disconnect(recorder)


@pytest.fixture
def posts() -> list[Post]:
    cat = Category.objects.create(title="c")
    return [Post.objects.create(title=f"p{i}", category=cat, rating=i) for i in range(3)]


def rename_silently(post: Post, title: str) -> None:
    """Change a row without telling cacheops: what is read afterwards shows where it came from."""
    with no_invalidation:
        Post.objects.filter(pk=post.pk).update(title=title)


@pytest.mark.usefixtures("mode")
def test_aget_hits_in_the_event_loop(posts, reads):
    post = posts[0]

    async def read() -> tuple[str, int]:
        obj = await Post.objects.aget(pk=post.pk)
        return obj.title, threading.get_ident()

    title, _ = run(read())  # miss: Django's async path stores it
    assert title == "p0"
    assert [hit for hit, _ in reads.events] == [False]
    rename_silently(post, "changed")
    reads.events.clear()
    title, loop_thread = run(read())
    assert title == "p0"  # served from the cache
    assert reads.events == [(True, loop_thread)]  # in the event loop's own thread: no thread hop
    invalidate_obj(post)
    assert run(read())[0] == "changed"


def test_sync_and_async_share_keys(posts, reads):
    post = posts[1]
    assert Post.objects.get(pk=post.pk).title == "p1"  # stored by the synchronous path
    assert Post.objects.filter(category=post.category).count() == 3
    rename_silently(post, "changed")

    async def read() -> tuple[str, int, int]:
        return (
            (await Post.objects.aget(pk=post.pk)).title,
            await Post.objects.filter(category=post.category).acount(),
            threading.get_ident(),
        )

    reads.events.clear()
    title, count, loop_thread = run(read())
    assert (title, count) == ("p1", 3)
    assert reads.events == [(True, loop_thread), (True, loop_thread)]


def test_aget_errors_like_get(posts):
    async def missing() -> None:
        await Post.objects.aget(pk=10**6)

    async def several() -> None:
        await Post.objects.aget(category=posts[0].category)

    for _ in range(2):  # a miss, then the cached (empty / several rows) result
        with pytest.raises(Post.DoesNotExist, match="Post matching query does not exist"):
            run(missing())
        with pytest.raises(Post.MultipleObjectsReturned, match="it returned 3"):
            run(several())


@pytest.mark.usefixtures("mode")
def test_afirst_alast_acount_aexists_aaggregate_and_async_for(posts, reads):
    cat = posts[0].category
    qs = Post.objects.filter(category=cat)

    async def everything() -> tuple[dict[str, Any], int]:
        return {
            "first": (await qs.order_by("rating").afirst()).title,
            "last": (await qs.order_by("rating").alast()).title,
            "none": await qs.filter(rating=99).afirst(),
            "count": await qs.acount(),
            "exists": await qs.filter(rating=2).aexists(),
            "aggregate": await qs.aaggregate(total=Sum("rating"), n=Count("id")),
            "rows": [p.title async for p in qs.order_by("-rating")],
        }, threading.get_ident()

    expected = {
        "first": "p0",
        "last": "p2",
        "none": None,
        "count": 3,
        "exists": True,
        "aggregate": {"total": 3, "n": 3},
        "rows": ["p2", "p1", "p0"],
    }
    assert run(everything())[0] == expected
    assert not any(hit for hit, _ in reads.events)
    # the database changes without invalidation: the cached answers stay
    with no_invalidation:
        Post.objects.filter(category=cat).update(rating=0)
    reads.events.clear()
    result, loop_thread = run(everything())
    assert result == expected
    assert reads.events == [(True, loop_thread)] * 7
    # a save invalidates for async readers too
    Post.objects.create(title="p3", category=cat, rating=5)
    fresh = run(everything())[0]
    assert fresh["count"] == 4
    assert fresh["aggregate"] == {"total": 5, "n": 4}
    assert fresh["rows"][0] == "p3"


def test_async_for_with_prefetch_and_evaluated_querysets(posts, queries):
    cat = posts[0].category

    async def titles() -> list[list[str]]:
        return [
            sorted(p.title for p in c.posts.all()) async for c in Category.objects.prefetch_related("posts")
        ]

    assert run(titles()) == [["p0", "p1", "p2"]]
    assert run(titles()) == [["p0", "p1", "p2"]]
    Post.objects.create(title="p9", category=cat)
    assert run(titles()) == [["p0", "p1", "p2", "p9"]]

    async def evaluated() -> tuple[int, bool]:
        qs = Post.objects.all()
        rows = [p async for p in qs]
        return await qs.acount() + len(rows), await qs.aexists()

    assert run(evaluated()) == (8, True)


def test_a_filter_matching_nothing_reads_as_in_sync_code(posts):
    """``pk__in=[]`` matches nothing without a query: Django answers, as the synchronous path does
    (the async key building raised Django's internal EmptyResultSet before)."""
    empty = Post.objects.filter(pk__in=[])
    expected = (empty.count(), empty.exists(), list(empty), empty.aggregate(n=Count("id")), empty.first())

    async def read() -> tuple[Any, ...]:
        return (
            await empty.acount(),
            await empty.aexists(),
            [p async for p in empty],
            await empty.aaggregate(n=Count("id")),
            await empty.afirst(),
        )

    assert expected == (0, False, [], {"n": 0}, None)
    assert run(read()) == expected
    with pytest.raises(Post.DoesNotExist):
        run(Post.objects.aget(pk__in=[]))


def test_not_cached_cases_use_djangos_path(posts, reads, settings):
    async def read() -> tuple[str, str]:
        nocache = await Post.objects.nocache().aget(pk=posts[0].pk)
        local = await Local.objects.acreate(tag=1)
        got = await Local.objects.aget(pk=local.pk)
        return nocache.title, str(got.tag)

    assert run(read()) == ("p0", "1")
    settings.CACHEOPS_ENABLED = False
    assert run(Post.objects.acount()) == 3
    assert not any(hit for hit, _ in reads.events)


def test_redis_down_degrades(posts, settings):
    settings.CACHEOPS_REDIS = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    settings.CACHEOPS_DEGRADE_ON_FAILURE = True
    with pytest.warns(RuntimeWarning, match="unreachable"):
        assert run(Post.objects.acount()) == 3
    settings.CACHEOPS_DEGRADE_ON_FAILURE = False
    import redis

    with pytest.raises(redis.ConnectionError):
        run(Post.objects.acount())


def test_async_mass_writes_invalidate(posts, settings):
    settings.CACHEOPS_INVALIDATE_BULK = True
    cat = posts[0].category

    async def flow() -> tuple[int, int, int]:
        before = await Post.objects.filter(category=cat, rating=9).acount()
        await Post.objects.filter(category=cat).aupdate(rating=9)
        updated = await Post.objects.filter(category=cat, rating=9).acount()
        await Post.objects.abulk_create([Post(title="new", category=cat, rating=9)])
        return before, updated, await Post.objects.filter(category=cat, rating=9).acount()

    assert run(flow()) == (0, 3, 4)


async def post_title_view(request: Any, pk: int) -> Any:
    post = await Post.objects.aget(pk=pk)
    return JsonResponse({"title": post.title, "thread": threading.get_ident()})


urlpatterns = [path("post/<int:pk>/", post_title_view)]


@pytest.mark.urls("tests.test_async")
def test_inside_an_async_view(posts, reads, async_client):
    post = posts[0]

    async def get() -> dict[str, Any]:
        return (await async_client.get(f"/post/{post.pk}/")).json()

    assert run(get())["title"] == "p0"
    rename_silently(post, "changed")
    reads.events.clear()
    body = run(get())
    assert body["title"] == "p0"
    assert reads.events == [(True, body["thread"])]  # served in the view's own event loop thread


def _lane_client_ids() -> set[int]:
    """Ids of the server connections named by the asyncio lane (CLIENT SETNAME through the lane)."""
    from cacheops.redis import get_client

    return {c["id"] for c in get_client().client_list() if c.get("name") == "cacheops-async-lane"}


def test_async_hits_survive_a_killed_lane_connection(posts, reads, settings, redis_server):

    from cacheops import async_redis
    from cacheops.connections import UNBOUNDED
    from cacheops.redis import get_client

    settings.CACHEOPS_REDIS = redis_server.url_for_db(0) + f"?max_connections={UNBOUNDED}"  # a lane
    post = posts[0]

    async def read_twice_with_a_kill_between() -> tuple[str, str, bool]:
        await Post.objects.aget(pk=post.pk)  # miss, stored through the worker thread
        first = (await Post.objects.aget(pk=post.pk)).title
        assert async_redis.get_async_lane() is not None  # a plain redis.asyncio client gets a lane
        await async_redis.acall("CLIENT", "SETNAME", "cacheops-async-lane")
        for client_id in _lane_client_ids():
            get_client().client_kill_filter(_id=client_id)
        second = (await Post.objects.aget(pk=post.pk)).title  # the lane's socket is dead: resent
        return first, second, bool(_lane_client_ids())

    first, second, renamed_left = run(read_twice_with_a_kill_between())
    assert first == second == "p0"
    assert not renamed_left  # the killed connection was not reused
    assert [hit for hit, _ in reads.events] == [False, True, True]


def test_a_cancelled_async_command_never_hands_its_late_reply_to_the_next(posts):
    import asyncio

    from cacheops import async_redis
    from cacheops.redis import get_client

    get_client().delete("cacheops-test-list")

    async def cancel_then_read() -> Any:
        await async_redis.acall("SET", "cacheops-test-key", "value")
        waiting = asyncio.ensure_future(async_redis.acall("BLPOP", "cacheops-test-list", 5))
        await asyncio.sleep(0.2)  # BLPOP sent; its reply will come when the list gets an item
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        get_client().rpush("cacheops-test-list", "late")  # a reply lands on the cancelled connection
        await asyncio.sleep(0.1)
        return await async_redis.acall("GET", "cacheops-test-key")

    assert run(cancel_then_read()) == b"value"
    get_client().delete("cacheops-test-list", "cacheops-test-key")
