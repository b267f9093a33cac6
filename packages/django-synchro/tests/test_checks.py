from __future__ import annotations

import datetime
import io

import pytest
from django.core.checks import run_checks
from django.test import override_settings


def _ids():
    return sorted({m.id for m in run_checks(tags=["synchro"]) if m.id and m.id.startswith("synchro.")})


def test_default_test_settings_are_clean():
    assert _ids() == []


def test_missing_remote_is_a_warning_with_a_hint():
    with override_settings():
        from django.conf import settings

        del settings.SYNCHRO_REMOTE
        messages = [m for m in run_checks(tags=["synchro"]) if m.id == "synchro.W001"]
    assert messages and "SYNCHRO_REMOTE" in messages[0].hint


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SYNCHRO_REMOTE": "nowhere"}, "synchro.E001"),
        ({"SYNCHRO_REMOTE": "default"}, "synchro.E002"),
        ({"SYNCHRO_MODELS": ["no_such_app"]}, "synchro.E003"),
        ({"SYNCHRO_MODELS": [("testapp", "NoSuchModel")]}, "synchro.E003"),
        ({"SYNCHRO_MODELS": "testapp"}, "synchro.E003"),
        ({"SYNCHRO_CONFLICT": "whoever"}, "synchro.E004"),
        ({"SYNCHRO_BATCH_SIZE": 0}, "synchro.E007"),
        ({"SYNCHRO_KEEP_LOGS": 7}, "synchro.E008"),
        ({"SYNCHRO_LOCAL": "elsewhere"}, "synchro.E009"),
        ({"SYNCHRO_LOG_DELAY": 5}, "synchro.E010"),
        ({"SYNCHRO_GAP_TIMEOUT": 3600}, "synchro.E011"),
        ({"SYNCHRO_GAP_TIMEOUT": datetime.timedelta(seconds=-1)}, "synchro.E011"),
    ],
)
def test_misconfiguration_is_reported(overrides, expected):
    with override_settings(**overrides):
        assert expected in _ids()


def test_keep_logs_timedelta_is_fine():
    with override_settings(SYNCHRO_KEEP_LOGS=datetime.timedelta(days=3)):
        assert _ids() == []


def test_models_are_case_insensitive_and_accept_dotted_app_names():
    from synchro.settings import parse_models
    from tests.testapp.models import Author, Tag

    assert parse_models([("testapp", "TAG", "author")]) == (Tag, Author)
    assert Author in parse_models(["tests.testapp"])


def test_skip_naming_an_unknown_field_is_reported(monkeypatch):
    from tests.testapp.models import Book

    monkeypatch.setattr(Book, "SYNCHRO_SKIP", ("balance", "no_such_field"))
    messages = [m for m in run_checks(tags=["synchro"]) if m.id == "synchro.E006"]
    assert len(messages) == 1 and "no_such_field" in messages[0].msg and messages[0].obj is Book


@pytest.mark.django_db(databases="__all__")
def test_shipped_migrations_match_the_models():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("makemigrations", "synchro", check=True, dry_run=True, stdout=out)  # exits on a change
    assert "No changes detected" in out.getvalue()
