"""Reads that must never be stale: each test caches a read, writes, and checks that the cached
read equals the database (issue 14; django-cacheops 7.2 returns fresh data in every case)."""

from __future__ import annotations

import pickle

import pytest
from django.db.models import Count, F

from tests.testapp.models import (
    SWITCH_SEEN,
    Bar,
    Brand,
    Category,
    DbAgnostic,
    Document,
    Extra,
    Foo,
    Gauge,
    Label,
    Post,
    Switch,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("mode")]


def test_post_save_receivers_of_the_user_read_the_saved_row_fresh():
    # tests.testapp.models connects its receiver when the models are imported, before cacheops'
    # app is ready: cacheops' invalidation must still run first
    switch = Switch.objects.create(on=False)
    assert Switch.objects.cache().get(pk=switch.pk).on is False  # cached
    SWITCH_SEEN.clear()
    switch.on = True
    switch.save()
    assert SWITCH_SEEN == [True]


def test_reverse_one_to_one_isnull():
    foo = Foo.objects.create()
    bar = Bar.objects.create()
    assert Foo.objects.cache().filter(bar__isnull=True).count() == 1
    bar.foo = foo
    bar.save()
    assert Foo.objects.cache().filter(bar__isnull=True).count() == 0
    bar.foo = None
    bar.save()
    assert Foo.objects.cache().filter(bar__isnull=True).count() == 1


def test_reverse_foreign_key_isnull():
    cat = Category.objects.create(title="empty")
    assert list(Category.objects.cache().filter(posts__isnull=True)) == [cat]
    Post.objects.create(title="p", category=cat)
    assert list(Category.objects.cache().filter(posts__isnull=True)) == []


def _brand_with_label() -> tuple[Brand, Label]:
    brand = Brand.objects.create()
    label = Label.objects.create(text="l")
    brand.labels.add(label)
    return brand, label


def test_deleting_either_side_of_a_many_to_many_relation():
    brand, label = _brand_with_label()
    assert len(Label.objects.cache().filter(brands=brand.pk)) == 1
    pk = brand.pk
    brand.delete()  # its through rows go by cascade, without post_delete from Django
    assert len(Label.objects.cache().filter(brands=pk)) == 0

    brand, label = _brand_with_label()
    assert len(Brand.objects.cache().filter(labels=label.pk)) == 1
    pk = label.pk
    label.delete()
    assert len(Brand.objects.cache().filter(labels=pk)) == 0


def test_queryset_delete_of_a_many_to_many_side():
    brand, label = _brand_with_label()
    assert Label.objects.cache().filter(brands=brand.pk).count() == 1
    Brand.objects.filter(pk=brand.pk).delete()
    assert Label.objects.cache().filter(brands=brand.pk).count() == 0


def test_set_null_by_a_deletion():
    foo = Foo.objects.create()
    Bar.objects.create(foo=foo)
    pk = foo.pk
    assert Bar.objects.cache().filter(foo=pk).count() == 1
    assert Bar.objects.cache().filter(foo__isnull=True).count() == 0
    foo.delete()  # on_delete=SET_NULL: an UPDATE of the bars, no signal from Django
    assert Bar.objects.cache().filter(foo=pk).count() == 0
    assert Bar.objects.cache().filter(foo__isnull=True).count() == 1


def test_aggregates_and_annotations_over_relations_depend_on_the_joined_table():
    cat = Category.objects.create(title="c")
    other = Category.objects.create(title="o")
    assert Category.objects.cache().aggregate(n=Count("posts")) == {"n": 0}
    assert Category.objects.cache().filter(pk=cat.pk).aggregate(n=Count("posts")) == {"n": 0}
    assert [c.n for c in Category.objects.cache().annotate(n=Count("posts")).order_by("pk")] == [0, 0]
    Post.objects.create(title="p", category=cat)
    assert Category.objects.cache().aggregate(n=Count("posts")) == {"n": 1}
    assert Category.objects.cache().filter(pk=cat.pk).aggregate(n=Count("posts")) == {"n": 1}
    assert [c.n for c in Category.objects.cache().annotate(n=Count("posts")).order_by("pk")] == [1, 0]
    Post.objects.create(title="q", category=other)
    assert Category.objects.cache().aggregate(n=Count("posts")) == {"n": 2}


def test_aggregate_over_a_relation_stays_granular(queries):
    cat = Category.objects.create(title="c")
    other = Category.objects.create(title="o")
    Category.objects.cache().filter(pk=cat.pk).aggregate(n=Count("posts"))
    Post.objects.create(title="p", category=other)  # not a post of cat
    with queries() as q:
        assert Category.objects.cache().filter(pk=cat.pk).aggregate(n=Count("posts")) == {"n": 0}
    assert q.count == 0


def test_bulk_create_invalidates_by_default(settings):
    settings.CACHEOPS_INVALIDATE_BULK = False
    Category.objects.create(title="a")
    assert Category.objects.cache().count() == 1
    Category.objects.bulk_create([Category(title="b"), Category(title="c")])
    assert Category.objects.cache().count() == 3


@pytest.mark.django_db(transaction=True, databases=["default", "slave"])
def test_bulk_create_invalidates_on_the_database_it_writes_to(settings):
    settings.CACHEOPS_INVALIDATE_BULK = False
    # DbAgnostic's profile has db_agnostic=False: each database has entries of its own
    assert DbAgnostic.objects.cache().count() == 0
    assert DbAgnostic.objects.using("slave").cache().count() == 0
    DbAgnostic.objects.using("slave").bulk_create([DbAgnostic()])
    assert DbAgnostic.objects.using("slave").cache().count() == 1
    assert DbAgnostic.objects.cache().count() == 0
    DbAgnostic.objects.bulk_create([DbAgnostic(), DbAgnostic()])
    assert DbAgnostic.objects.cache().count() == 2
    assert DbAgnostic.objects.using("slave").cache().count() == 1


def test_defer_then_last_and_delete():
    cat = Category.objects.create(title="c")
    Post.objects.create(title="p1", category=cat, visible=True)
    Post.objects.create(title="p2", category=cat, visible=True)
    assert Post.objects.cache().filter(visible=True).count() == 2
    post = Post.objects.defer("visible").last()
    assert post is not None and post.title == "p2"
    post.delete()  # the deferred field is read before the row goes
    assert Post.objects.cache().filter(visible=True).count() == 1
    post = Post.objects.defer("visible").get(title="p1")
    post.title = "renamed"
    post.save()
    assert Post.objects.cache().filter(visible=True, title="renamed").count() == 1


def test_pickling_an_instance_holding_a_cached_queryset():
    cat = Category.objects.create(title="c")
    Post.objects.create(title="p", category=cat)
    cat = Category.objects.get(pk=cat.pk)
    cat.posts_copy = cat.posts.cache()
    assert bool(cat.posts_copy)
    again = pickle.loads(pickle.dumps(cat))
    assert [p.title for p in again.posts_copy] == ["p"]
    fresh = Category.objects.get(pk=cat.pk)
    fresh.posts_copy = fresh.posts.cache()
    assert [p.title for p in fresh.posts_copy] == ["p"]  # read back from the cache


def test_json_numbers_are_compared_as_the_database_does():
    Document.objects.create(data=2)
    for value in (1.0, 1):
        cached = Document.objects.cache().filter(data=value).count()
        assert cached == Document.objects.nocache().filter(data=value).count()
    Document.objects.create(data=1)
    for value in (1.0, 1):
        cached = Document.objects.cache().filter(data=value).count()
        assert cached == Document.objects.nocache().filter(data=value).count()


def test_negative_zero_matches_zero():
    assert Gauge.objects.cache().filter(ratio=-0.0).count() == 0
    Gauge.objects.create(ratio=0.0)
    assert Gauge.objects.cache().filter(ratio=-0.0).count() == 1
    assert Gauge.objects.cache().filter(ratio=0.0).count() == 1


def test_saving_an_expression_value():
    cat = Category.objects.create(title="c")
    post = Post.objects.create(title="p", category=cat)
    extra = Extra.objects.create(post=post, tag=5)
    assert Extra.objects.cache().filter(tag=6).count() == 0
    extra.tag = F("tag") + 1
    extra.save()  # the new value is known to the database only
    assert Extra.objects.cache().filter(tag=6).count() == 1
