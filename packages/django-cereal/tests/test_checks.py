"""System checks: bad settings, a missing allow-list, serializers the Celery app does not accept."""

from __future__ import annotations

import pytest
from celery import Celery
from django.core.checks import run_checks
from django.test import override_settings

ALLOWED = {"DJANGO_CEREAL_ALLOWED_MODELS": None}


def ids(**settings) -> list[str]:
    with override_settings(**settings):
        return [message.id for message in run_checks(tags=["django_cereal"])]


def test_bad_settings_are_errors():
    with override_settings(
        DJANGO_CEREAL_MISSING="drop",
        DJANGO_CEREAL_ALLOWED_MODELS=[1],
        DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS="fractions.Fraction",
    ):
        errors = run_checks(tags=["django_cereal"])
    assert [e.id for e in errors if e.is_serious()] == ["cereal.E001", "cereal.E002", "cereal.E003"]
    assert "DJANGO_CEREAL_MISSING must be one of" in errors[0].msg
    assert "DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS must be a list" in errors[2].msg


def test_warning_when_the_allow_list_is_not_set(settings):
    del settings.DJANGO_CEREAL_ALLOWED_MODELS  # pytest-django restores it afterwards
    (warning,) = [m for m in run_checks(tags=["django_cereal"]) if m.id == "cereal.W001"]
    assert "DJANGO_CEREAL_ALLOWED_MODELS is not set" in warning.msg and "auth.User" in warning.msg
    assert "cereal.W001" not in ids(DJANGO_CEREAL_ALLOWED_MODELS=["testapp"])
    assert "cereal.W001" not in ids(DJANGO_CEREAL_ALLOWED_MODELS=None)  # allowing every model on purpose


@pytest.fixture
def other_app():
    """A Celery app made current for one test, as a project's ``app = Celery(...)`` would be."""
    from celery import current_app

    previous = current_app._get_current_object()
    app = Celery("checked", set_as_current=True)
    yield app
    previous.set_current()
    app.close()


def test_serializer_missing_from_accept_content(other_app):
    @other_app.task(name="checked.json_task", serializer="django-cereal-json", shared=False)
    def json_task(book):
        return book

    @other_app.task(name="checked.pickle_task", serializer="django_cereal_pickle", shared=False)
    def pickle_task(book):
        return book

    other_app.conf.accept_content = ["json", "django-cereal-json"]
    messages = run_checks(tags=["django_cereal"])
    (warning,) = [m for m in messages if m.id == "cereal.W002"]
    assert "'django_cereal_pickle'" in warning.msg and "task checked.pickle_task" in warning.msg
    assert "CELERY_ACCEPT_CONTENT" in warning.hint

    other_app.conf.accept_content = ["json", "django-cereal-json", "django-cereal-pickle"]  # either name
    assert "cereal.W002" not in ids(**ALLOWED)


def test_default_serializer_missing_from_accept_content(other_app):
    other_app.conf.task_serializer = "django-cereal-json"
    other_app.conf.accept_content = ["json", "django-cereal-pickle"]
    (warning,) = [m for m in run_checks(tags=["django_cereal"]) if m.id == "cereal.W002"]
    assert "'django-cereal-json' (task_serializer uses it)" in warning.msg
    other_app.conf.accept_content = [
        "django-cereal-pickle",
        "application/x-django-cereal-json",
    ]  # content types too
    assert "cereal.W002" not in ids(**ALLOWED)


def test_result_serializer_missing_from_result_accept_content(other_app):
    other_app.conf.accept_content = ["django-cereal-json", "django-cereal-pickle"]
    other_app.conf.result_serializer = "django-cereal-json"
    other_app.conf.result_accept_content = ["json"]
    assert "cereal.W003" in ids(**ALLOWED)
    other_app.conf.result_accept_content = None  # falls back to accept_content
    assert ids(**ALLOWED) == []


def test_the_suite_settings_pass_every_check(celery_app):
    assert ids(**ALLOWED) == []
