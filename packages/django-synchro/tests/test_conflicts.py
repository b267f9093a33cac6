from __future__ import annotations

import pytest
from django.test import override_settings

from synchro import SyncError
from synchro.models import ChangeLog
from tests.helpers import sync
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


def _synced_author():
    author = Author.objects.create(name="v0")
    sync()
    return author, Author.objects.using("remote").get()


def test_newer_remote_change_is_not_overwritten():
    local, remote = _synced_author()
    local.name = "local"
    local.save()
    remote.name = "remote"
    remote.save()  # logged on REMOTE, later than the local change
    summary = sync()
    assert Author.objects.using("remote").get().name == "remote"
    assert len(summary.conflicts) == 1 and summary.conflicts[0].winner == "remote"


def test_older_remote_change_is_overwritten_and_its_log_dropped():
    local, remote = _synced_author()
    remote.name = "remote"
    remote.save()
    local.name = "local"
    local.save()
    summary = sync()
    assert Author.objects.using("remote").get().name == "local"
    assert summary.conflicts[0].winner == "local"
    assert not ChangeLog.objects.using("remote").filter(model="testapp.author").exists()


def test_newer_wins_applies_to_deletions():
    local, remote = _synced_author()
    local.delete()
    remote.name = "kept"
    remote.save()
    summary = sync()
    assert Author.objects.using("remote").get().name == "kept"
    assert summary.deleted == 0 and len(summary.conflicts) == 1


def test_newer_wins_applies_to_m2m_changes():
    book = Book.objects.create(title="b", author=Author.objects.create(name="a"))
    sync()
    book.tags.add(Tag.objects.create(name="t"))
    remote_book = Book.objects.using("remote").get()
    remote_book.title = "remote title"
    remote_book.save()
    sync()
    remote_book.refresh_from_db()
    assert remote_book.title == "remote title"
    assert not remote_book.tags.exists()


@override_settings(SYNCHRO_CONFLICT="local_wins")
def test_local_wins_policy():
    local, remote = _synced_author()
    local.name = "local"
    local.save()
    remote.name = "remote"
    remote.save()
    assert sync().conflicts[0].winner == "local"
    assert Author.objects.using("remote").get().name == "local"


@override_settings(SYNCHRO_CONFLICT="remote_wins")
def test_remote_wins_policy():
    local, remote = _synced_author()
    remote.name = "remote"
    remote.save()
    local.name = "local"
    local.save()
    assert sync().conflicts[0].winner == "remote"
    assert Author.objects.using("remote").get().name == "remote"


def test_callable_policy_sees_the_conflict():
    seen = []

    def policy(conflict):
        seen.append((conflict.model, conflict.deletion, conflict.local_date < conflict.remote_date))
        return "local"

    local, remote = _synced_author()
    local.name = "local"
    local.save()
    remote.name = "remote"
    remote.save()
    with override_settings(SYNCHRO_CONFLICT=policy):
        sync()
    assert seen == [(Author, False, True)]
    assert Author.objects.using("remote").get().name == "local"


def test_callable_policy_with_a_bad_answer_is_an_error():
    local, remote = _synced_author()
    local.save()
    remote.save()
    with (
        override_settings(SYNCHRO_CONFLICT=lambda conflict: "both"),
        pytest.raises(SyncError, match="'both'"),
    ):
        sync()


def test_no_conflict_without_remote_changes():
    local, _ = _synced_author()
    local.name = "x"
    local.save()
    assert sync().conflicts == []
