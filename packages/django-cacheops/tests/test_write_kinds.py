"""Every kind of write, then every cached read equals the same read with ``.nocache()``.

Each test caches a set of reads that the write may change (rows it changes before and after,
through joins, counts, ``@cached_as`` functions), runs one kind of write, and compares every
cached read with the uncached one, in each storage mode."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, models, transaction
from django.db.models import Count, F, Q

from cacheops import cached_as, invalidate_all, invalidate_dict, invalidate_model, invalidate_obj
from cacheops.memory import local_cache
from tests.testapp.models import (
    Brand,
    BrandT,
    Category,
    DbAgnostic,
    Extra,
    Label,
    Labeling,
    LabelT,
    Media,
    Movie,
    Post,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]

# classic, insideout, and fast mode (results in process memory, checked with stamps: the push
# check of a listener thread may lag behind in a test)
MODES: dict[str, dict[str, Any]] = {
    "classic": {},
    "insideout": {"CACHEOPS_INSIDEOUT": True},
    "fast": {"CACHEOPS_LOCAL_CHECK": "stamps"},
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest, settings: Any) -> str:
    """This module's storage modes (it replaces the suite's, whose third is a key prefix)."""
    for name, value in MODES[request.param].items():
        setattr(settings, name, value)
    if request.param == "fast":
        settings.CACHEOPS = {**settings.CACHEOPS, "testapp.*": {"ops": "all", "local": True}}
    local_cache.clear()
    invalidate_all()
    return request.param


Read = Callable[[bool], Any]  # cached? -> a comparable value


def qs_read(make: Callable[[], Any], shape: Callable[[Any], Any] = list) -> Read:
    def read(cached: bool) -> Any:
        qs = make()
        return shape(qs if cached else qs.nocache())

    return read


def rows(qs: Any) -> list:
    return sorted(qs.values_list(*[f.attname for f in qs.model._meta.concrete_fields]))


def check_each(reads: list[Read], writes: list[Callable[[], Any]]) -> None:
    """:func:`check` after each write in turn (each starts where the previous one left)."""
    for i, write in enumerate(writes):
        try:
            check(reads, write)
        except AssertionError as e:
            raise AssertionError(f"after write {i}: {e}") from e


def check(reads: list[Read], write: Callable[[], Any]) -> None:
    """Cache ``reads``, run ``write``, then compare each cached read with the uncached one."""
    for read in reads:
        assert read(True) == read(False)  # warm (and sane)
    write()
    for i, read in enumerate(reads):
        assert read(True) == read(False), f"read {i} is stale"
        assert read(True) == read(False), f"read {i} is stale (second, stored) time"


@pytest.fixture
def blog() -> dict[str, Any]:
    a, b = Category.objects.create(title="a"), Category.objects.create(title="b")
    u = User.objects.create(username="u")
    posts = [
        Post.objects.create(title=f"{c.title}{i}", category=c, rating=i, visible=i % 2 == 0, author=u)
        for c in (a, b)
        for i in range(3)
    ]
    for n, p in enumerate(posts):
        Extra.objects.create(post=p, tag=n)
    return {"a": a, "b": b, "u": u, "posts": posts}


def post_reads(blog: dict[str, Any]) -> list[Read]:
    a = blog["a"]
    return [
        qs_read(lambda: Post.objects.all(), rows),
        qs_read(lambda: Post.objects.filter(rating=7), rows),
        qs_read(lambda: Post.objects.filter(rating=1), rows),
        qs_read(lambda: Post.objects.filter(category=a), rows),
        qs_read(lambda: Post.objects.filter(category__title="a"), rows),
        qs_read(lambda: Post.objects.filter(category__title="zz"), rows),
        qs_read(lambda: Post.objects.filter(author__username="u"), rows),
        qs_read(lambda: Post.objects.filter(author__isnull=True), rows),
        qs_read(lambda: Post.objects.filter(visible=True, rating__gte=2), lambda q: q.count()),
        qs_read(
            lambda: Category.objects.annotate(n=Count("posts")).order_by("pk"), lambda q: [c.n for c in q]
        ),
        qs_read(lambda: Category.objects.filter(posts__rating=7).distinct(), rows),
        qs_read(lambda: Extra.objects.filter(post__rating=7), rows),
        qs_read(lambda: Extra.objects.all(), rows),
        qs_read(lambda: Category.objects.all(), rows),
        qs_read(
            lambda: User.objects.filter(username__in=["u", "v"]),
            lambda q: sorted(q.values_list("pk", "username")),
        ),
        lambda cached: (
            (Post.objects if cached else Post.objects.nocache()).filter(title="a1").first()
            and (Post.objects if cached else Post.objects.nocache()).get(title="a1").rating
        ),
    ]


# ------------------------------------------------------------------ QuerySet.update()


@pytest.fixture
def bulk_on(settings: Any) -> None:
    settings.CACHEOPS_INVALIDATE_BULK = True


@pytest.mark.usefixtures("bulk_on")
@pytest.mark.parametrize(
    "write",
    [
        lambda b: Post.objects.filter(category__title="a").update(rating=7),
        lambda b: Post.objects.filter(category__title="a").update(rating=F("rating") + 6),
        lambda b: Post.objects.filter(category__title="a", rating__gte=1).update(category=b["b"]),
        lambda b: Post.objects.filter(Q(rating=1) | Q(category__title="b")).update(author=None, rating="7"),
        lambda b: Post.objects.filter(extra__tag__gte=2).update(category_id=b["b"].pk, rating=7),
        lambda b: Post.objects.filter(pk__in=Post.objects.filter(rating=1).values("pk")).update(rating=7),
        lambda b: Post.objects.invalidated_update(rating=7),
    ],
)
def test_update(blog, write):
    check_each(post_reads(blog), [functools.partial(write, blog) for write in JOINED_WRITES])


@pytest.mark.parametrize("how", ["update", "invalidated_update"])
def test_update_of_the_primary_key_by_an_expression(settings, how):
    """Rows whose primary key an expression changed can't be read back by their old keys."""
    settings.CACHEOPS_INVALIDATE_BULK = how == "update"  # invalidated_update() does it alone
    labels = [Label.objects.create(text=t) for t in "xy"]
    moved = labels[0].pk + 1000
    reads = [
        qs_read(lambda: Label.objects.filter(pk=moved), rows),
        qs_read(lambda: Label.objects.filter(pk__gte=moved), lambda q: q.count()),
        qs_read(lambda: Label.objects.filter(text="x"), rows),
        qs_read(lambda: Label.objects.all(), rows),
    ]
    check(reads, lambda: getattr(Label.objects.filter(text="x"), how)(id=F("id") + 1000))


@pytest.mark.usefixtures("bulk_on")
def test_bulk_update_in_batches(blog):
    posts = list(Post.objects.nocache().order_by("pk"))
    for p in posts:
        p.rating = 7 if p.pk % 2 else p.rating
        p.category = blog["b"]
    check(post_reads(blog), lambda: Post.objects.bulk_update(posts, ["rating", "category"], batch_size=2))


@pytest.mark.usefixtures("bulk_on")
def test_update_of_a_multi_table_child():
    Movie.objects.create(name="m1", year=2000)
    Movie.objects.create(name="m2", year=2001)
    Media.objects.create(name="plain")
    reads = [
        qs_read(lambda: Media.objects.filter(name="x"), rows),
        qs_read(lambda: Media.objects.all(), rows),
        qs_read(lambda: Movie.objects.filter(name="x"), rows),
        qs_read(lambda: Movie.objects.filter(year=1999), rows),
    ]
    check(reads, lambda: Movie.objects.filter(year=2000).update(name="x", year=1999))
    check(reads, lambda: Movie.objects.filter(name="x").update(name=F("name"), year=F("year") - 1))


def test_child_saved_over_an_existing_parent():
    """``Movie(media_ptr=media, ...)`` adds a child row and updates the existing parent row."""
    media = Media.objects.create(name="m")
    Media.objects.create(name="other")
    reads = [
        qs_read(lambda: Media.objects.filter(name="m"), rows),
        qs_read(lambda: Media.objects.filter(name="n"), rows),
        qs_read(lambda: Media.objects.all(), rows),
        qs_read(lambda: Movie.objects.filter(name="n"), rows),
        qs_read(lambda: Movie.objects.all(), rows),
    ]
    check(reads, lambda: Movie(media_ptr=media, name="n", year=1).save())


# ------------------------------------------------------------------ saves


def test_update_or_create_and_get_or_create(blog):
    reads = post_reads(blog)
    a = blog["a"]
    check(reads, lambda: Post.objects.update_or_create(title="a1", defaults={"rating": 7, "category": a}))
    check(
        reads, lambda: Post.objects.update_or_create(title="new", category=a, create_defaults={"rating": 7})
    )
    check(reads, lambda: Post.objects.get_or_create(title="a2", defaults={"category": a}))
    check(reads, lambda: Post.objects.get_or_create(title="other", defaults={"category": a, "rating": 7}))


class Ticket(models.Model):
    """A primary key with a default (its table exists only in the test below)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=20)

    class Meta:
        app_label = "testapp"


@pytest.fixture
def tickets() -> Iterator[list[Ticket]]:
    with connection.schema_editor() as editor:
        editor.create_model(Ticket)
    try:
        yield [Ticket.objects.create(name=n) for n in "ab"]
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(Ticket)


@pytest.mark.parametrize("raw", [False, True])
def test_forced_update_of_a_new_instance_whose_primary_key_has_a_default(tickets, raw):
    """Django inserts such an instance without trying an UPDATE, unless forced to (or raw, as
    loaddata saves): then it overwrites the row, whose old values cacheops didn't read."""
    reads = [
        qs_read(lambda: Ticket.objects.filter(name="a"), rows),
        qs_read(lambda: Ticket.objects.filter(name="c"), rows),
        qs_read(lambda: Ticket.objects.all(), rows),
    ]
    if raw:
        write = lambda: Ticket(pk=tickets[0].pk, name="c").save_base(raw=True)  # noqa: E731
    else:
        write = lambda: Ticket(pk=tickets[0].pk, name="c").save(force_update=True)  # noqa: E731
    check(reads, write)


def test_save_update_fields_with_a_stale_instance(blog):
    reads = post_reads(blog)
    stale = Post.objects.nocache().get(title="a1")
    fresh = Post.objects.nocache().get(pk=stale.pk)
    fresh.category = blog["b"]
    fresh.save()
    stale.rating = 7  # stale.category is still a in memory
    check(reads, lambda: stale.save(update_fields=["rating"]))


def test_save_of_a_deferred_instance(blog):
    reads = post_reads(blog)
    p = Post.objects.nocache().only("title").get(title="a1")

    def write() -> None:
        p.rating = 7
        p.save()

    check(reads, write)


def test_select_for_update_inside_atomic(blog):
    reads = post_reads(blog)

    def write() -> None:
        with transaction.atomic():
            p = Post.objects.select_for_update().get(title="a1")
            p.rating = 7
            p.save()
            assert Post.objects.filter(rating=7).count() == 1

    check(reads, write)


def test_refresh_from_db_after_raw_sql_and_invalidate_obj(blog):
    reads = post_reads(blog)
    p = Post.objects.get(title="a1")
    table = Post._meta.db_table

    def write() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET rating = 7 WHERE id = %s", [p.pk])
        p.refresh_from_db()
        assert p.rating == 7
        invalidate_obj(p)  # the new values
        p.rating = 1
        invalidate_obj(p)  # the old values

    check(reads, write)

    def write_model() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET rating = 1, author_id = NULL")
        invalidate_model(Post)

    check(reads, write_model)


def test_raw_sql_then_invalidate_dict_with_a_to_field_instance(blog):
    """``invalidate_dict`` keyed by field name: a foreign key instance stands for its to_field."""
    extras = list(Extra.objects.nocache().order_by("tag"))
    target, changed = extras[3], extras[0]
    reads = [
        qs_read(lambda: Extra.objects.filter(to_tag=target), rows),
        qs_read(lambda: Extra.objects.filter(to_tag__tag=target.tag), rows),
    ]

    def write() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Extra._meta.db_table} SET to_tag_id = %s WHERE id = %s", [target.tag, changed.pk]
            )
        invalidate_dict(Extra, {"id": changed.pk, "post": changed.post, "tag": changed.tag, "to_tag": target})

    check(reads, write)


# ------------------------------------------------------------------ deletions


def test_delete_cascading_over_levels_and_set_null(blog):
    reads = post_reads(blog)
    check(reads, lambda: blog["u"].delete())  # SET_NULL on Post.author
    check(reads, lambda: Category.objects.filter(title="a").delete())  # posts, extras
    check(reads, lambda: Post.objects.filter(rating=2).delete())


def test_delete_through_a_to_field_foreign_key(blog):
    extras = list(Extra.objects.nocache().order_by("tag"))
    for e, to in zip(extras[1:], extras):
        e.to_tag = to
        e.save()
    reads = [
        qs_read(lambda: Extra.objects.filter(to_tag__tag=3), rows),
        qs_read(lambda: Extra.objects.all(), rows),
        qs_read(lambda: Post.objects.filter(extra__tag__gte=3), rows),
    ]
    check(reads, lambda: extras[2].delete())


# ------------------------------------------------------------------ many-to-many


@pytest.fixture
def brands() -> tuple[list[Brand], list[Label]]:
    labels = [Label.objects.create(text=t) for t in "xyz"]
    brands = [Brand.objects.create(name=n) for n in "pq"]
    brands[0].labels.set(labels[:2])
    brands[1].labels.set(labels[1:])
    return brands, labels


def brand_reads() -> list[Read]:
    return [
        qs_read(lambda: Brand.objects.filter(labels__text="x"), rows),
        qs_read(lambda: Brand.objects.filter(labels__text="z").distinct(), rows),
        qs_read(lambda: Label.objects.filter(brands__name="p"), rows),
        qs_read(lambda: Label.objects.filter(brands__isnull=True), rows),
        qs_read(lambda: Brand.labels.through.objects.all(), rows),
        qs_read(lambda: Brand.objects.annotate(n=Count("labels")).order_by("pk"), lambda q: [b.n for b in q]),
    ]


M2M_WRITES = [
    lambda bs, ls: bs[0].labels.set([ls[2]]),
    lambda bs, ls: ls[1].brands.set([bs[0]]),
    lambda bs, ls: bs[1].labels.clear(),
    lambda bs, ls: ls[1].brands.clear(),
    lambda bs, ls: bs[0].labels.remove(ls[0]),
    lambda bs, ls: ls[2].brands.remove(bs[1]),
    lambda bs, ls: ls[0].brands.add(bs[1]),
    lambda bs, ls: ls[0].delete(),
    lambda bs, ls: Brand.objects.filter(name="p").delete(),
]


def test_m2m(brands):
    check_each(brand_reads(), [functools.partial(write, *brands) for write in M2M_WRITES])


THROUGH_WRITES = [
    lambda bs, ls: bs[0].labels.set([ls[2]], through_defaults={"tag": 5}),
    lambda bs, ls: ls[1].brands.clear(),
    lambda bs, ls: bs[0].labels.remove(ls[0]),
    lambda bs, ls: ls[2].brands.add(bs[0], through_defaults={"tag": 5}),
    lambda bs, ls: Labeling.objects.filter(label=ls[1]).update(tag=5),
    lambda bs, ls: LabelT.objects.filter(text="y").delete(),
]


def test_m2m_with_a_custom_through_model(settings):
    settings.CACHEOPS_INVALIDATE_BULK = True
    labels = [LabelT.objects.create(text=t) for t in "xyz"]
    brands = [BrandT.objects.create() for _ in range(2)]
    brands[0].labels.set(labels[:2])
    brands[1].labels.set(labels[1:])
    reads = [
        qs_read(lambda: BrandT.objects.filter(labels__text="x"), rows),
        qs_read(lambda: BrandT.objects.filter(labels__text="z").distinct(), rows),
        qs_read(lambda: LabelT.objects.filter(brands__pk=brands[0].pk), rows),
        qs_read(lambda: LabelT.objects.filter(labeling__tag=5), rows),
        qs_read(lambda: Labeling.objects.all(), rows),
    ]
    check_each(reads, [functools.partial(write, brands, labels) for write in THROUGH_WRITES])


class Pal(models.Model):
    """A symmetrical many-to-many relation to self (its table exists only in the test below)."""

    name = models.CharField(max_length=20)
    pals = models.ManyToManyField("self")

    class Meta:
        app_label = "testapp"


@pytest.fixture
def pals() -> Iterator[list[Pal]]:
    with connection.schema_editor() as editor:
        editor.create_model(Pal)
    try:
        yield [Pal.objects.create(name=n) for n in "abc"]
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(Pal)


PAL_WRITES = [
    lambda a, b, c: a.pals.add(b),
    lambda a, b, c: b.pals.remove(a),
    lambda a, b, c: a.pals.clear(),
    lambda a, b, c: c.pals.set([b]),
    lambda a, b, c: a.delete(),
]


def test_symmetrical_m2m(pals):
    """Django writes the mirror rows of a symmetrical relation too: they are invalidated for."""
    a, b, c = pals
    a.pals.add(c)
    reads: list[Read] = [qs_read(lambda pk=p.pk: Pal.objects.filter(pals=pk), rows) for p in pals]
    reads.append(qs_read(lambda: Pal.objects.filter(pals__name="a"), rows))
    check_each(reads, [functools.partial(write, a, b, c) for write in PAL_WRITES])


# ------------------------------------------------------------------ transactions


def test_nested_savepoint_rollback_then_outer_commit(blog):
    reads = post_reads(blog)

    def write() -> None:
        with transaction.atomic():
            p = Post.objects.nocache().get(title="a1")
            p.rating = 7
            p.save()
            try:
                with transaction.atomic():
                    p.rating = 5
                    p.save()
                    assert Post.objects.filter(rating=5).count() == 1
                    raise RuntimeError
            except RuntimeError:
                pass
            assert Post.objects.filter(rating=7).count() == 1
            assert Post.objects.filter(rating=5).count() == 0

    check(reads, write)


def test_result_read_inside_a_rolled_back_transaction_is_not_kept(blog):
    reads = post_reads(blog)

    def write() -> None:
        try:
            with transaction.atomic():
                p = Post.objects.get(title="a1")
                p.rating = 7
                p.save()
                with transaction.atomic():
                    Post.objects.filter(title="b1").delete()
                    assert Post.objects.filter(rating=1).count() == 0
                    transaction.set_rollback(True)
                for read in reads:
                    read(True)
                raise RuntimeError
        except RuntimeError:
            pass

    check(reads, write)


# ------------------------------------------------------------------ @cached_as


def call_cached_or_not(func: Any, cached: bool) -> Any:
    return func() if cached else func.__wrapped__()


@pytest.mark.usefixtures("bulk_on")
def test_cached_as_functions_follow_every_write(blog):
    a = blog["a"]

    @cached_as(Post.objects.filter(category=a))
    def ratings_of_a() -> list[int]:
        return sorted(Post.objects.nocache().filter(category=a).values_list("rating", flat=True))

    @cached_as(Post, extra="x")
    def all_ratings() -> list[int]:
        return sorted(Post.objects.nocache().values_list("rating", flat=True))

    @cached_as(Post.objects.filter(rating=7), Category)
    def sevens() -> int:
        return Post.objects.nocache().filter(rating=7).count()

    funcs = [ratings_of_a, all_ratings, sevens]
    reads: list[Read] = [functools.partial(call_cached_or_not, f) for f in funcs]
    writes = [
        lambda: Post.objects.filter(category__title="a").update(rating=F("rating") + 1),
        lambda: Post.objects.filter(category__title="b").update(category=a, rating=7),
        lambda: Post.objects.filter(rating=7).delete(),
        lambda: Post.objects.bulk_create([Post(title="n", category=a, rating=7)]),
        lambda: Post.objects.filter(title="n").invalidated_update(rating=0),
    ]
    for write in writes:
        check(reads, write)


@pytest.mark.usefixtures("bulk_on")
@pytest.mark.parametrize("how", ["update", "invalidated_update", "bulk_update"])
def test_update_of_a_to_field_foreign_key_to_an_instance(blog, how):
    """``to_tag`` refers to ``Extra.tag``, not to the primary key: the column gets the tag."""
    extras = list(Extra.objects.nocache().order_by("tag"))
    target = extras[3]
    assert target.pk != target.tag
    reads = [
        qs_read(lambda: Extra.objects.filter(to_tag=target), rows),
        qs_read(lambda: Extra.objects.filter(to_tag__tag=target.tag), rows),
        qs_read(lambda: Extra.objects.filter(to_tag__post__title=target.post.title), rows),
        qs_read(lambda: Extra.objects.filter(to_tag_id=target.pk), rows),
    ]

    def write() -> None:
        qs = Extra.objects.filter(tag__lt=2)
        if how == "update":
            qs.update(to_tag=target)
        elif how == "invalidated_update":
            qs.invalidated_update(to_tag=target)
        else:
            objs = list(qs.nocache())
            for obj in objs:
                obj.to_tag = target
            Extra.objects.bulk_update(objs, ["to_tag"])

    check(reads, write)


JOINED_WRITES = [
    lambda b: Category.objects.filter(title="a").update(title="zz"),
    lambda b: Category.objects.filter(posts__rating=2).update(title=F("title")),
    lambda b: Category.objects.filter(pk=b["a"].pk).invalidated_update(title="zz"),
    lambda b: Category.objects.update_or_create(pk=b["b"].pk, defaults={"title": "a"}),
    lambda b: User.objects.filter(username="u").update(username="v"),
]


@pytest.mark.usefixtures("bulk_on")
def test_update_of_a_joined_table(blog):
    check_each(post_reads(blog), [functools.partial(write, blog) for write in JOINED_WRITES])


MULTI = pytest.mark.django_db(transaction=True, databases=["default", "slave"])


OTHER_DB_WRITES = [
    lambda pks: DbAgnostic.objects.using("slave").create(),
    lambda pks: DbAgnostic.objects.using("slave").bulk_create([DbAgnostic(), DbAgnostic()]),
    lambda pks: DbAgnostic.objects.using("slave").get(pk=pks[1]).delete(),
    lambda pks: DbAgnostic.objects.using("slave").filter(pk=pks[0]).update(id=99),
    lambda pks: DbAgnostic.objects.using("slave").filter(pk__gt=pks[0]).delete(),
]


@MULTI
@pytest.mark.usefixtures("bulk_on")
def test_other_database_not_db_agnostic():
    pks = [DbAgnostic.objects.using("slave").create().pk for _ in range(3)]
    DbAgnostic.objects.create()
    reads = [
        qs_read(lambda: DbAgnostic.objects.using("slave").all(), rows),
        qs_read(lambda: DbAgnostic.objects.using("slave").filter(pk=99), lambda q: q.count()),
        qs_read(lambda: DbAgnostic.objects.all(), rows),
        qs_read(lambda: DbAgnostic.objects.filter(pk__gt=pks[0]), lambda q: q.count()),
    ]
    check_each(reads, [functools.partial(write, pks) for write in OTHER_DB_WRITES])


@MULTI
def test_transaction_on_the_other_database():
    first = DbAgnostic.objects.using("slave").create().pk
    reads = [
        qs_read(lambda: DbAgnostic.objects.using("slave").all(), rows),
        qs_read(lambda: DbAgnostic.objects.all(), rows),
    ]

    def rolled_back() -> None:
        try:
            with transaction.atomic(using="slave"):
                DbAgnostic.objects.using("slave").create()
                with transaction.atomic():  # default: clean
                    for read in reads:
                        read(True)
                raise RuntimeError
        except RuntimeError:
            pass

    check(reads, rolled_back)

    def committed() -> None:
        with transaction.atomic(using="slave"):
            DbAgnostic.objects.using("slave").create()
            for read in reads:
                read(True)
            DbAgnostic.objects.using("slave").filter(pk=first).delete()

    check(reads, committed)


# ------------------------------------------------------------------ manual transactions


def in_a_thread(func: Callable[[], Any]) -> Any:
    """``func()`` run in another thread (with its own database connection)."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(func())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def test_manual_transaction_rolled_back(blog):
    """``set_autocommit(False)`` opens a transaction outside any atomic block: what it reads
    after writing is not stored, and a rollback leaves no trace in the cache."""
    reads = post_reads(blog)

    def write() -> None:
        transaction.set_autocommit(False)
        try:
            p = Post.objects.get(title="a1")
            p.rating = 7
            p.save()
            Post.objects.filter(title="b1").delete()
            assert Post.objects.filter(rating=7).count() == 1
            for read in reads:
                read(True)
            transaction.rollback()
        finally:
            transaction.set_autocommit(True)

    check(reads, write)


def test_manual_transaction_committed(blog):
    """Invalidation waits for ``commit()``: read before it (even in another connection), the
    old result is stored, and the commit drops it."""
    reads = post_reads(blog)

    def write() -> None:
        transaction.set_autocommit(False)
        try:
            p = Post.objects.get(title="a1")
            p.rating = 7
            p.save()
            p.category = blog["b"]
            p.save()
            Post.objects.filter(title="b1").delete()
            for read in reads:
                read(True)
            transaction.commit()
            # another connection (a thread's) sees the commit at once, so must the cache
            assert in_a_thread(lambda: [read(True) == read(False) for read in reads]) == [True] * len(reads)
            for read in reads:  # between commit() and set_autocommit(True): clean again
                assert read(True) == read(False)
            Post.objects.filter(title="b2").delete()
            transaction.commit()
        finally:
            transaction.set_autocommit(True)

    check(reads, write)
