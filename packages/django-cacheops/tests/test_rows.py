"""Cached lists of instances come back as the instances the database gives (compact storage)."""

from __future__ import annotations

import pytest
from django.db.models import Count

from cacheops.redis import redis_client
from tests.testapp.models import Category, Document, Movie, Post, Video, VideoProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


def fields(objs, *names):
    return [tuple(getattr(o, n) for n in names) for o in objs]


def cached_twice(queries, make):
    """The result read from the database (and stored), then from the cache without SQL."""
    fresh = list(make())
    with queries() as q:
        cached = list(make())
    assert q.count == 0
    return fresh, cached


@pytest.fixture
def data():
    cat = Category.objects.create(title="c")
    for i in range(3):
        Post.objects.create(title=f"p{i}", category=cat, rating=i)
    return cat


def test_plain_rows(queries, data):
    fresh, cached = cached_twice(queries, lambda: Post.objects.order_by("pk"))
    assert fields(cached, "pk", "title", "rating", "category_id") == fields(
        fresh, "pk", "title", "rating", "category_id"
    )
    assert all(type(o) is Post and o._state.adding is False and o._state.db == "default" for o in cached)
    # an instance from the cache saves as an update of its row
    cached[0].title = "changed"
    cached[0].save()
    assert Post.objects.count() == 3
    assert Post.objects.get(pk=cached[0].pk).title == "changed"


def test_deferred_and_annotated_rows(queries, data):
    fresh, cached = cached_twice(queries, lambda: Post.objects.order_by("pk").only("title"))
    assert fields(cached, "pk", "title") == fields(fresh, "pk", "title")
    assert (
        cached[0].get_deferred_fields()
        == fresh[0].get_deferred_fields()
        == {
            "category_id",
            "visible",
            "author_id",
            "rating",
        }
    )
    fresh, cached = cached_twice(queries, lambda: Category.objects.annotate(n=Count("posts")))
    assert [c.n for c in cached] == [c.n for c in fresh] == [3]


def test_rows_with_related_objects(queries, data):
    fresh, cached = cached_twice(queries, lambda: Post.objects.select_related("category").order_by("pk"))
    with queries() as q:
        assert [p.category.title for p in cached] == ["c", "c", "c"]
    assert q.count == 0


def test_inherited_proxy_and_binary_rows(queries):
    Movie.objects.create(name="m", year=1999)
    fresh, cached = cached_twice(queries, lambda: Movie.objects.all())
    assert fields(cached, "pk", "name", "year") == [(fresh[0].pk, "m", 1999)]
    VideoProxy.objects.create(title="v")
    fresh, cached = cached_twice(queries, lambda: VideoProxy.objects.all())
    assert type(cached[0]) is VideoProxy and cached[0].title == "v"
    Document.objects.create(data={"a": [1, 2]}, blob=b"\x00\x01")
    fresh, cached = cached_twice(queries, lambda: Document.objects.all())
    assert cached[0].data == {"a": [1, 2]}
    assert bytes(cached[0].blob) == b"\x00\x01"


def test_compact_entries_are_smaller(data):
    """Many rows of one query take less room than pickled instances would."""
    import pickle

    cat = data
    for i in range(50):
        Post.objects.create(title=f"q{i}", category=cat, rating=i)
    rows = list(Post.objects.filter(category=cat))
    keys = list(redis_client.scan_iter(match="*q:*"))
    assert len(keys) == 1
    stored = redis_client.memory_usage(keys[0])
    assert stored < len(pickle.dumps(rows, -1))


def states(objs):
    """Each instance's attributes and ModelState values (``peers`` aside: weak references to the
    rows fetched with it, never stored; and an empty ``fields_cache``, which ModelState makes
    when it is first read)."""
    out = []
    for obj in objs:
        data = {k: v for k, v in obj.__dict__.items() if k != "_state"}
        state = {
            k: v
            for k, v in obj._state.__dict__.items()
            if k != "peers" and not (k == "fields_cache" and v == {})
        }
        out.append((type(obj), data, state))
    return out


@pytest.mark.django_db(transaction=True, databases=["default", "slave"])
def test_rows_come_back_exactly_as_fetched(queries, data):
    """Whatever the compact form leaves out (the field names of full rows, the usual state of a
    fetched row) comes back: every attribute and state value equals the plain queryset's."""
    other = Category.objects.using("slave").create(title="s")
    Post.objects.using("slave").create(title="s", category=other, rating=9)
    Video.objects.create(title="v")
    pk = Post.objects.nocache().order_by("pk").first().pk
    cases = [
        (Post, lambda qs: [qs.get(pk=pk)]),
        (Post, lambda qs: qs.order_by("pk")),
        (Post, lambda qs: qs.order_by("pk").only("title")),
        (Post, lambda qs: qs.order_by("pk").defer("rating")),
        (Post, lambda qs: qs.using("slave")),
        (Category, lambda qs: qs.annotate(n=Count("posts"))),
        (VideoProxy, lambda qs: qs),
    ]
    for model, make in cases:
        fresh, cached = cached_twice(queries, lambda make=make, model=model: make(model.objects.all()))
        plain = list(make(model.objects.nocache()))
        assert states(cached) == states(fresh) == states(plain)


def test_entries_in_the_longer_form_still_read(data):
    """An entry stored with every name and the whole state (as before) reads the same."""
    from cacheops.rows import MARK, pack, unpack

    rows = list(Post.objects.nocache().order_by("pk"))
    _, cls, names, state, values = pack(rows)
    assert names is None and state == "default"  # the short form for fetched rows
    longer = (
        MARK,
        cls,
        tuple(f.attname for f in Post._meta.concrete_fields),
        rows[0]._state.__dict__,
        values,
    )
    assert states(unpack(longer)) == states(rows)


def test_a_cached_get_is_small(data):
    """A cached get(pk) takes about a hundred bytes of value (class, database and the values)."""
    from cacheops.store import dumps

    post = Post.objects.nocache().order_by("pk").first()
    assert len(dumps([post])) < 120
