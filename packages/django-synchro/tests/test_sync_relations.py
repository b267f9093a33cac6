from __future__ import annotations

import datetime
import uuid

import pytest

from synchro import DisableSynchroLog, SyncError
from synchro.models import ChangeLog
from tests.helpers import names, sync
from tests.testapp.models import Author, Book, Chicken, Club, Egg, Event, Item, Membership, Person, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


def test_fk_target_that_was_never_logged_is_synced_first():
    with DisableSynchroLog():
        author = Author.objects.create(name="hidden")
    Book.objects.create(title="B", author=author)
    summary = sync()
    assert summary.added == 2
    assert Book.objects.using("remote").get().author.name == "hidden"


def test_fk_points_at_remote_copy_found_by_natural_key():
    remote_tag = Tag.objects.using("remote").create(name="found")
    Tag.objects.using("remote").create(name="other")
    with DisableSynchroLog():
        Tag.objects.create(name="unused")
        tag = Tag.objects.create(name="found")
    book = Book.objects.create(title="B", author=Author.objects.create(name="A"))
    book.tags.add(tag)
    sync()
    assert list(Book.objects.using("remote").get().tags.all()) == [remote_tag]
    assert Tag.objects.using("remote").count() == 2


def test_deletion_found_by_natural_key_with_a_date():
    Event.objects.using("remote").create(code="x", day=datetime.date(2024, 2, 29), note="remote copy")
    event = Event.objects.create(code="x", day=datetime.date(2024, 2, 29))
    log = ChangeLog.objects.get()
    event.delete()
    deletion = ChangeLog.objects.exclude(pk=log.pk).get()
    assert deletion.natural_key == ["x", "2024-02-29"]  # JSON, not repr
    summary = sync()
    assert summary.deleted == 1
    assert not Event.objects.using("remote").exists()


def test_natural_key_update_does_not_duplicate():
    Event.objects.using("remote").create(code="x", day=datetime.date(2024, 1, 1), note="old")
    Event.objects.create(code="x", day=datetime.date(2024, 1, 1), note="new")
    sync()
    assert list(Event.objects.using("remote").values_list("note", flat=True)) == ["new"]


def test_uuid_primary_keys_are_kept_whole():
    item = Item.objects.create(name="u")
    assert ChangeLog.objects.get().object_id == str(item.pk)
    sync()
    assert Item.objects.using("remote").get().pk == item.pk
    item.name = "v"
    item.save()
    sync()
    assert Item.objects.using("remote").get(pk=item.pk).name == "v"


def test_self_fk_cycle_terminates():
    a = Person.objects.create(name="a")
    b = Person.objects.create(name="b", best_friend=a)
    a.best_friend = b
    a.save()
    me = Person.objects.create(name="narcissus")
    me.best_friend = me
    me.save()
    sync()
    ra = Person.objects.using("remote").get(name="a")
    rb = Person.objects.using("remote").get(name="b")
    assert ra.best_friend_id == rb.pk and rb.best_friend_id == ra.pk
    rme = Person.objects.using("remote").get(name="narcissus")
    assert rme.best_friend_id == rme.pk


def test_two_model_cycle_with_one_nullable_fk():
    egg = Egg.objects.create(name="egg")
    chicken = Chicken.objects.create(name="hen", egg=egg)
    egg.chicken = chicken
    egg.save()
    sync()
    remote_egg = Egg.objects.using("remote").get()
    remote_chicken = Chicken.objects.using("remote").get()
    assert remote_egg.chicken_id == remote_chicken.pk
    assert remote_chicken.egg_id == remote_egg.pk


def test_dangling_fk_is_a_clear_error():
    with DisableSynchroLog():
        egg = Egg.objects.create(name="egg")
        chicken = Chicken.objects.create(name="hen", egg=egg)
        Egg.objects.filter(pk=egg.pk).update(chicken=chicken)
        Chicken.objects.filter(pk=chicken.pk).delete()  # SET_NULL on egg.chicken
    with DisableSynchroLog(), connection_without_fk_checks():
        Egg.objects.filter(pk=egg.pk).update(chicken_id=chicken.pk)
    try:
        Egg.objects.get(pk=egg.pk).save()
        with pytest.raises(SyncError, match="testapp.chicken"):
            sync()
    finally:
        with DisableSynchroLog():
            Egg.objects.filter(pk=egg.pk).delete()


from contextlib import contextmanager  # noqa: E402

from django.db import connection  # noqa: E402


@contextmanager
def connection_without_fk_checks():
    with connection.constraint_checks_disabled():
        yield


def test_m2m_remove_clear_and_reverse_side():
    book = Book.objects.create(title="B", author=Author.objects.create(name="A"))
    red, blue, green = (Tag.objects.create(name=n) for n in ("red", "blue", "green"))
    book.tags.add(red, blue)
    sync()
    book.tags.remove(red)
    sync()
    assert list(Book.objects.using("remote").get().tags.values_list("name", flat=True)) == ["blue"]
    green.books.add(book)  # reverse side: the book's m2m changed
    sync()
    assert sorted(Book.objects.using("remote").get().tags.values_list("name", flat=True)) == ["blue", "green"]
    blue.books.clear()
    sync()
    assert list(Book.objects.using("remote").get().tags.values_list("name", flat=True)) == ["green"]
    book.tags.clear()
    sync()
    assert not Book.objects.using("remote").get().tags.exists()


def test_symmetrical_self_m2m():
    a, b, c = (Person.objects.create(name=n) for n in "abc")
    a.friends.add(b, c)
    sync()
    rb = Person.objects.using("remote").get(name="b")
    assert list(rb.friends.values_list("name", flat=True)) == ["a"]
    b.friends.remove(a)
    sync()
    ra = Person.objects.using("remote").get(name="a")
    assert list(ra.friends.values_list("name", flat=True)) == ["c"]
    assert not rb.friends.exists()


def test_explicit_through_rows_with_extra_fields():
    club = Club.objects.create(name="chess")
    p = Person.objects.create(name="p")
    club.members.add(p, through_defaults={"role": "captain"})
    sync()
    row = Membership.objects.using("remote").get()
    assert (row.club.name, row.person.name, row.role) == ("chess", "p", "captain")
    Membership.objects.filter(club=club).update(role="coach")
    club.save()
    sync()
    assert Membership.objects.using("remote").get().role == "coach"
    club.members.remove(p)
    sync()
    assert not Membership.objects.using("remote").exists()


def test_unwatched_models_are_not_logged():
    from tests.testapp.models import Unwatched

    Unwatched.objects.create(name="x")
    assert not ChangeLog.objects.exists()


def test_log_goes_to_the_database_the_object_was_saved_to():
    Author.objects.using("remote").create(name="r")
    assert ChangeLog.objects.using("remote").count() == 1
    assert ChangeLog.objects.using("default").count() == 0


def test_uuid_objects_have_no_references():
    from synchro.models import Reference

    Item.objects.create(id=uuid.uuid4(), name="x")
    sync()
    assert not Reference.objects.using("remote").exists()


def test_renaming_a_natural_key_object_after_sync_does_not_duplicate():
    tag = Tag.objects.create(name="old")
    sync()
    tag.name = "new"
    tag.save()
    sync()
    assert names(Tag) == ["new"]


def test_object_deleted_on_remote_is_created_again_when_changed_locally():
    author = Author.objects.create(name="a")
    sync()
    Author.objects.using("remote").all().delete()
    ChangeLog.objects.using("remote").all().delete()
    author.name = "a2"
    author.save()
    sync()
    assert names(Author) == ["a2"]
    assert sync().added == 0


def test_cycle_reached_through_a_dependency_is_broken_at_the_nullable_field():
    with DisableSynchroLog():
        egg = Egg.objects.create(name="egg")
        chicken = Chicken.objects.create(name="hen", egg=egg)
        egg.chicken = chicken
        egg.save()
    # Chicken.egg is NOT NULL and Egg.chicken is nullable: a cycle that can be broken.
    chicken.save()
    sync()
    assert Chicken.objects.using("remote").get().egg.chicken.name == "hen"
