from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models.signals import post_save
from django.test import override_settings

from tests.helpers import names
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_command_syncs_and_prints_a_summary():
    Author.objects.create(name="a")
    out = io.StringIO()
    call_command("synchronize", stdout=out)
    assert "1 added, 0 changed, 0 deleted, 0 conflicts, 0 failed" in out.getvalue()
    assert "[" not in out.getvalue()  # no progress bar when not on a terminal
    assert names(Author) == ["a"]


def test_progress_bar_on_a_terminal():
    for i in range(5):
        Author.objects.create(name=f"a{i}")
    out = Terminal()
    call_command("synchronize", "--batch-size", "2", stdout=out)
    assert "100% 5/5" in out.getvalue()


def test_dry_run_option():
    Author.objects.create(name="a")
    out = io.StringIO()
    call_command("synchronize", "--dry-run", stdout=out)
    assert "dry run" in out.getvalue()
    assert names(Author) == []


def test_failure_exits_non_zero():
    Author.objects.create(name="bad")

    def explode(sender, instance, using, **kwargs):
        if using == "remote":
            raise RuntimeError("remote refuses")

    post_save.connect(explode, sender=Author)
    try:
        with pytest.raises(CommandError, match="remote refuses"):
            call_command("synchronize", stdout=io.StringIO())
        err = io.StringIO()
        with pytest.raises(CommandError, match="1 changes failed"):
            call_command("synchronize", "--continue-on-error", stdout=io.StringIO(), stderr=err)
        assert "remote refuses" in err.getvalue()
    finally:
        post_save.disconnect(explode, sender=Author)
    out = io.StringIO()
    call_command("synchronize", "--retry-failed", stdout=out)
    assert names(Author) == ["bad"]


def test_models_and_direction_options():
    Author.objects.create(name="a")
    Author.objects.using("remote").create(name="r")
    call_command("synchronize", "--models", "testapp.Author", "--direction", "both", stdout=io.StringIO())
    assert names(Author, "default") == names(Author, "remote") == ["a", "r"]
    with pytest.raises(CommandError, match="Unknown model"):
        call_command("synchronize", "--models", "testapp.Nope", stdout=io.StringIO())


def test_prune_option():
    from synchro.models import ChangeLog

    Author.objects.create(name="a")
    out = io.StringIO()
    call_command("synchronize", "--prune", stdout=out)
    assert "1 synchronized log entries pruned" in out.getvalue()
    assert not ChangeLog.objects.exists()


def test_no_remote_is_a_command_error():
    with override_settings(SYNCHRO_REMOTE=None), pytest.raises(CommandError, match="SYNCHRO_REMOTE"):
        call_command("synchronize", stdout=io.StringIO())
