"""Real operation: concurrent and crashed runs, natural-key collisions, dry runs, the admin page,
logging, a fresh project's migrations (issue 15, second part)."""

from __future__ import annotations

import datetime
import logging
import re
import subprocess
import sys
import textwrap

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connections
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from synchro import SyncError
from synchro.models import Checkpoint, FailedChange, Node, Reference
from tests.helpers import names, sync
from tests.processes import run_syncs
from tests.testapp.models import Author, Book, Event, Tag

BOTH = ["default", "remote"]


def _library(authors: int, first: int = 0) -> None:
    tags = [Tag.objects.get_or_create(name=f"t{i}")[0] for i in range(3)]
    for i in range(first, first + authors):
        author = Author.objects.create(name=f"a{i:03}")
        Book.objects.create(title=f"b{i:03}", author=author).tags.add(tags[i % 3])


def _state(alias: str) -> tuple:
    return (
        names(Author, alias),
        sorted(Book.objects.using(alias).values_list("title", "author__name")),
        sorted(Book.tags.through.objects.using(alias).values_list("book__title", "tag__name")),
        names(Tag, alias),
    )


def _forget_every_synchronization() -> None:
    """Back to a first-ever synchronization: no node, checkpoint or copy anywhere."""
    from dbsettings.models import Setting

    for alias in BOTH:
        for model in (Node, Checkpoint, Reference):
            model.objects.using(alias).all().delete()
    for model in (Book, Author, Tag):
        model.objects.using("remote").all().delete()
    Setting.objects.all().delete()
    cache.clear()


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_two_first_syncs_released_together_create_no_duplicates():
    _library(60)
    for _trial in range(3):
        _forget_every_synchronization()
        outcomes = run_syncs(2, together=True, batch_size=20)
        assert any(outcome == "ok" for outcome, _detail in outcomes), outcomes
        for outcome, detail in outcomes:
            assert outcome == "ok" or "another synchronization" in detail, outcomes
        assert Node.objects.using("default").count() == 1
        assert Node.objects.using("remote").count() == 1
        assert Checkpoint.objects.using("remote").count() == 1
        sync()  # whatever the loser left undone
        assert _state("remote") == _state("default")


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_a_run_killed_after_each_second_batch_still_progresses():
    _library(5)
    sync()  # a completed run before: options.last_check is set
    _library(40, first=5)  # 40 authors and 40 books: 120 log entries with the m2m changes
    positions = []
    for _run in range(3):
        assert run_syncs(batch_size=20, kill_after_batches=2) == [("killed", -9)]
        positions.append(Checkpoint.objects.using("remote").get().position)
    assert positions[0] < positions[1] < positions[2]
    assert sync().added == 0
    assert _state("remote") == _state("default")


@pytest.mark.django_db(databases=BOTH, transaction=True)
def test_a_run_killed_in_a_batch_resumes_after_the_last_committed_one():
    _library(5)
    sync()
    _library(10, first=5)
    assert run_syncs(batch_size=10, kill_after_batches=1) == [("killed", -9)]
    committed = Checkpoint.objects.using("remote").get().position
    summary = sync(batch_size=10)
    # Only the entries after the committed batch were read again.
    from synchro.models import ChangeLog

    assert summary.logs == ChangeLog.objects.filter(id__gt=committed).count()
    assert _state("remote") == _state("default")


@pytest.mark.django_db(databases=BOTH)
def test_natural_key_of_an_object_already_mapped_to_another_is_refused_naming_both():
    day = datetime.date(2024, 5, 1)
    first = Event.objects.create(code="x", day=day, note="first")
    sync()
    copy = Event.objects.using("remote").get()
    second = Event.objects.create(code="x", day=day, note="second")
    with pytest.raises(SyncError) as info:
        sync()
    pattern = (
        rf"testapp\.event '{second.pk}' on 'default' has the natural key \('x', .*\) of "
        rf"testapp\.event '{copy.pk}' on 'remote', which is already the copy of testapp\.event '{first.pk}'"
    )
    assert re.search(pattern, str(info.value)), str(info.value)
    assert list(Event.objects.using("remote").values_list("note", flat=True)) == ["first"]
    summary = sync(continue_on_error=True)
    assert summary.failed == 1 and "natural key" in summary.errors[0]
    failed = FailedChange.objects.get()
    assert (failed.model, failed.object_id) == ("testapp.event", str(second.pk))
    assert str(first.pk) in failed.error


@pytest.mark.django_db(databases=BOTH)
def test_dry_run_reads_only_and_plans_what_the_real_run_does():
    _library(4)
    with DisableLogs():
        orphan = Author.objects.create(name="never logged")  # reached only through a book's FK
    Book.objects.create(title="late", author=orphan)
    for batch_size in (3, 1000):
        with (
            CaptureQueriesContext(connections["default"]) as local,
            CaptureQueriesContext(connections["remote"]) as remote,
        ):
            planned = sync(dry_run=True, batch_size=batch_size)
        writes = [
            q["sql"]
            for q in local.captured_queries + remote.captured_queries
            if not q["sql"].lstrip().upper().startswith("SELECT")
        ]
        assert writes == []
        assert planned.dry_run and planned.added == 4 + 4 + 3 + 2  # authors, books, tags, late ones
    done = sync(batch_size=3)
    assert (planned.added, planned.changed, planned.deleted) == (done.added, done.changed, done.deleted)
    Author.objects.get(name="a000").delete()  # cascades to its book
    author = Author.objects.get(name="a001")
    author.name = "renamed"
    author.save()
    planned = sync(dry_run=True)
    done = sync()
    assert (planned.added, planned.changed, planned.deleted) == (done.added, done.changed, done.deleted)
    assert (done.changed, done.deleted) == (1, 2)


class DisableLogs:
    def __enter__(self):
        from synchro import DisableSynchroLog

        self.block = DisableSynchroLog()
        return self.block.__enter__()

    def __exit__(self, *exc):
        return self.block.__exit__(*exc)


@pytest.mark.django_db(databases=BOTH)
def test_admin_view_protects_itself_without_the_csrf_middleware():
    from django.conf import settings

    without_csrf = [m for m in settings.MIDDLEWARE if "csrf" not in m.lower()]
    Author.objects.create(name="a")
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create(username="staff", is_staff=True))
    with override_settings(MIDDLEWARE=without_csrf):
        assert client.post(reverse("synchro:synchro"), {"synchronize": "1"}).status_code == 403
        page = client.get(reverse("synchro:synchro"))
        token = page.context["csrf_token"]
        response = client.post(reverse("synchro:synchro"), {"synchronize": "1", "csrfmiddlewaretoken": token})
        assert response.status_code == 302
    assert names(Author) == ["a"]


@pytest.mark.django_db(databases=BOTH)
def test_admin_index_links_to_the_synchro_page():
    client = Client()
    client.force_login(User.objects.create(username="staff", is_staff=True))
    index = client.get(reverse("admin:index")).content.decode()
    link = reverse("admin:synchro_synchronization_changelist")
    assert f'href="{link}"' in index
    page = client.get(link, follow=True)
    assert page.status_code == 200 and 'name="synchronize"' in page.content.decode()
    plain = Client()
    plain.force_login(User.objects.create(username="plain"))
    assert plain.get(link).status_code == 302  # to the login page


@pytest.mark.django_db(databases=BOTH)
def test_runs_conflicts_and_failures_are_logged(caplog):
    from django.db.models.signals import post_save

    caplog.set_level(logging.INFO, logger="synchro")
    author = Author.objects.create(name="a")
    sync()
    assert any(
        r.levelno == logging.INFO and "push: 1 added" in r.getMessage() and r.name.startswith("synchro.")
        for r in caplog.records
    )
    caplog.clear()
    author.name = "local"
    author.save()
    remote = Author.objects.using("remote").get()
    remote.name = "remote"
    remote.save()
    sync()
    assert any(r.levelno == logging.WARNING and "conflict" in r.getMessage() for r in caplog.records)
    caplog.clear()

    def explode(sender, instance, using, **kwargs):
        if using == "remote":
            raise RuntimeError("remote refuses")

    Author.objects.create(name="bad")
    post_save.connect(explode, sender=Author)
    try:
        sync(continue_on_error=True)
    finally:
        post_save.disconnect(explode, sender=Author)
    assert any(r.levelno == logging.ERROR and "remote refuses" in r.getMessage() for r in caplog.records)


FRESH_PROJECT = textwrap.dedent(
    """
    import sys
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", sys.argv[1], "synchro"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",  # what startproject writes
    )
    django.setup()
    from django.core.management import call_command

    call_command("makemigrations", check=True, dry_run=True, verbosity=0)
    """
)


def test_fresh_project_migrations_are_clean_with_the_dbsettings_fix():
    def makemigrations_check(app: str) -> int:
        return subprocess.run([sys.executable, "-c", FRESH_PROJECT, app], capture_output=True).returncode

    assert makemigrations_check("dbsettings") == 1  # the problem the README describes
    assert makemigrations_check("synchro.apps.DbsettingsConfig") == 0  # its one-line fix
