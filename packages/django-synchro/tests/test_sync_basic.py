from __future__ import annotations

import pytest
from django.utils import timezone

from synchro.models import Reference
from tests.helpers import names, sync
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


def test_push_copies_objects_with_fks_and_m2m():
    author = Author.objects.create(name="Lem")
    red, blue = Tag.objects.create(name="red"), Tag.objects.create(name="blue")
    book = Book.objects.create(title="Solaris", author=author, balance=7, published=timezone.now())
    book.tags.add(red, blue)

    summary = sync()

    assert summary.added == 4 and summary.failed == 0
    remote_book = Book.objects.using("remote").get(title="Solaris")
    assert remote_book.author.name == "Lem"
    assert remote_book.published == book.published
    assert sorted(remote_book.tags.values_list("name", flat=True)) == ["blue", "red"]
    assert remote_book.balance == 0  # SYNCHRO_SKIP fields get their default on creation


def test_resync_adds_nothing():
    author = Author.objects.create(name="Lem")
    Book.objects.create(title="Solaris", author=author).tags.add(Tag.objects.create(name="x"))
    sync()
    again = sync()
    assert (again.added, again.changed, again.deleted) == (0, 0, 0)
    assert Author.objects.using("remote").count() == 1
    assert Book.objects.using("remote").count() == 1
    assert Tag.objects.using("remote").count() == 1


def test_changes_and_deletions_follow():
    author = Author.objects.create(name="Lem")
    book = Book.objects.create(title="Solaris", author=author, balance=3)
    sync()
    Book.objects.using("remote").filter(title="Solaris").update(balance=99)
    book.title = "Solaris (2nd ed.)"
    book.balance = 5
    book.save()
    summary = sync()
    assert summary.changed == 1
    remote = Book.objects.using("remote").get()
    assert remote.title == "Solaris (2nd ed.)"
    assert remote.balance == 99  # skipped field untouched on change
    book.delete()
    assert sync().deleted == 1
    assert not Book.objects.using("remote").exists()
    assert Reference.objects.using("remote").filter(model="testapp.book").count() == 0


def test_existing_remote_object_found_by_natural_key():
    Tag.objects.using("remote").create(name="spare")
    Tag.objects.using("remote").create(name="red")
    Tag.objects.create(name="red")
    assert sync().added == 0
    assert names(Tag) == ["red", "spare"]


def test_second_sync_within_the_same_second_does_not_replay():
    author = Author.objects.create(name="a1")
    sync()
    Author.objects.create(name="a2")
    sync()
    author.name = "a1b"
    author.save()
    sync()
    assert names(Author) == ["a1b", "a2"]


def test_fresh_install_syncs_what_was_logged_before_the_first_sync():
    Author.objects.create(name="early")
    assert sync().added == 1


def test_timestamps_are_aware_under_use_tz_and_keep_microseconds():
    from synchro.models import ChangeLog, Checkpoint, last_check_moment, options

    Author.objects.create(name="x")
    log = ChangeLog.objects.get()
    assert timezone.is_aware(log.date)
    sync()
    checkpoint = Checkpoint.objects.using("remote").get()
    assert timezone.is_aware(last_check_moment())
    assert last_check_moment() == checkpoint.synced_at  # microseconds survive dbsettings
    assert checkpoint.synced_at >= log.date
    # As in django-synchro 0.7 (dbsettings' DateTimeValue): naive local time, as datetime.now().
    assert options.last_check == checkpoint.synced_at.astimezone().replace(tzinfo=None)
    assert options.last_check.microsecond == checkpoint.synced_at.microsecond
