from __future__ import annotations

import datetime

import pytest
from django.db.models.signals import post_save
from django.test import override_settings
from django.utils import timezone

from synchro import SyncError, reset_synchro, retry_failed
from synchro.models import ChangeLog, Checkpoint, FailedChange, options
from tests.helpers import names, sync
from tests.testapp.models import Author, Book, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


class Crash(Exception):
    pass


def _library(n=30):
    tags = [Tag.objects.create(name=f"t{i}") for i in range(3)]
    for i in range(n):
        author = Author.objects.create(name=f"a{i}")
        book = Book.objects.create(title=f"b{i}", author=author)
        book.tags.add(tags[i % 3])


def _state(alias):
    return (
        names(Author, alias),
        sorted(Book.objects.using(alias).values_list("title", "author__name")),
        sorted(Book.tags.through.objects.using(alias).values_list("book__title", "tag__name")),
        names(Tag, alias),
    )


def test_crash_between_batches_then_rerun_gives_the_same_remote():
    _library()
    calls = []

    def crash_on_third(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise Crash

    with pytest.raises(Crash):
        sync(batch_size=10, progress=crash_on_third)
    assert 0 < Author.objects.using("remote").count() < 30
    sync(batch_size=10)
    assert _state("remote") == _state("default")
    assert sync().added == 0


def test_crash_inside_a_batch_leaves_nothing_of_it():
    _library(10)

    def explode(sender, instance, using, **kwargs):
        if using == "remote" and instance.name == "a7":
            raise Crash("injected")

    post_save.connect(explode, sender=Author)
    try:
        with pytest.raises(SyncError, match="injected"):
            sync(batch_size=1000)
    finally:
        post_save.disconnect(explode, sender=Author)
    assert not Checkpoint.objects.using("remote").filter(position__gt=0).exists()
    sync()
    assert _state("remote") == _state("default")


def test_crash_after_the_last_batch_before_the_local_mark():
    _library(5)
    sync()
    Author.objects.create(name="late")

    def crash_at_end(done, total):
        if done == total and done:
            raise Crash

    with pytest.raises(Crash):
        sync(progress=crash_at_end)
    sync()
    sync()
    assert names(Author).count("late") == 1
    assert _state("remote") == _state("default")


def test_failing_change_blocks_by_default_and_names_the_object():
    _library(3)

    def explode(sender, instance, using, **kwargs):
        if using == "remote" and instance.name == "a1":
            raise Crash("no a1 here")

    post_save.connect(explode, sender=Author)
    try:
        with pytest.raises(SyncError, match=r"testapp\.author '\d+'.*no a1 here"):
            sync()
        summary = sync(continue_on_error=True)
    finally:
        post_save.disconnect(explode, sender=Author)
    assert summary.failed >= 1
    assert FailedChange.objects.filter(model="testapp.author").exists()
    # the rest went through and later syncs are not blocked
    assert "a2" in names(Author)
    Author.objects.create(name="after")
    assert sync().added == 1
    assert retry_failed() >= 1
    sync()
    assert _state("remote") == _state("default")
    assert not FailedChange.objects.exists()


def test_dry_run_writes_nothing():
    _library(4)
    summary = sync(dry_run=True)
    assert summary.added > 0 and summary.dry_run
    assert not Author.objects.using("remote").exists()
    assert not Checkpoint.objects.using("remote").exists()
    assert options.last_check is None
    assert sync().added == summary.added


def test_models_option_syncs_only_those_and_keeps_the_checkpoint():
    Author.objects.create(name="a")
    Tag.objects.create(name="t")
    sync(models=[Tag])
    assert names(Tag) == ["t"] and names(Author) == []
    sync()
    assert names(Author) == ["a"] and names(Tag) == ["t"]


def test_reset_forgets_everything_logged():
    Author.objects.create(name="before")
    reset_synchro()
    assert not ChangeLog.objects.exists()
    Author.objects.create(name="after")
    sync()
    assert names(Author) == ["after"]


def test_moving_last_check_by_hand_resyncs_from_that_moment():
    author = Author.objects.create(name="a")
    sync()
    Author.objects.using("remote").all().delete()
    options.last_check = timezone.now() - datetime.timedelta(days=1)
    author.save()
    sync()
    assert names(Author) == ["a"]


@override_settings(SYNCHRO_KEEP_LOGS=datetime.timedelta(0))
def test_keep_logs_prunes_synchronized_entries():
    Author.objects.create(name="a")
    sync()
    assert not ChangeLog.objects.exists()
    Author.objects.create(name="b")
    sync()
    assert names(Author) == ["a", "b"]


def test_pull_and_both_directions():
    Author.objects.using("remote").create(name="from remote")
    Author.objects.create(name="from local")
    summary = sync(direction="both")
    assert summary.direction == "push+pull"
    assert names(Author, "default") == names(Author, "remote") == ["from local", "from remote"]
    # nothing echoes back and forth
    again = sync(direction="both")
    assert (again.added, again.changed) == (0, 0)
    remote = Author.objects.using("remote").get(name="from local")
    remote.name = "renamed on remote"
    remote.save()
    sync(direction="both")
    assert names(Author, "default") == ["from remote", "renamed on remote"]
    assert sync(direction="both").changed == 0


def test_missing_remote_setting_warns_and_only_logs():
    from synchro import call_synchronize

    with override_settings():
        from django.conf import settings

        del settings.SYNCHRO_REMOTE
        Author.objects.create(name="a")
        with pytest.warns(RuntimeWarning, match="SYNCHRO_REMOTE"):
            call_synchronize()
    assert ChangeLog.objects.count() == 1
    assert not Author.objects.using("remote").exists()


def test_log_delay_leaves_the_newest_entries_for_the_next_run():
    Author.objects.create(name="old")
    ChangeLog.objects.update(date=timezone.now() - datetime.timedelta(minutes=5))
    Author.objects.create(name="fresh")
    with override_settings(SYNCHRO_LOG_DELAY=datetime.timedelta(minutes=1)):
        sync()
        assert names(Author) == ["old"]
    sync()
    assert names(Author) == ["fresh", "old"]


def test_a_concurrent_run_that_moved_the_checkpoint_stops_this_one():
    _library(6)

    def other_run_advances(done, total):
        if done == 10:  # after our first batch, "someone else" moves the checkpoint on
            Checkpoint.objects.using("remote").update(position=10_000)

    with pytest.raises(SyncError, match="another synchronization"):
        sync(batch_size=10, progress=other_run_advances)
    assert Checkpoint.objects.using("remote").get().position == 10_000
