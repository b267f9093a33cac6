"""System checks (active when ``django_cereal`` is in INSTALLED_APPS; tag ``django_cereal``).

* ``cereal.E001`` / ``cereal.E002`` / ``cereal.E003``: an invalid ``DJANGO_CEREAL_MISSING``,
  ``DJANGO_CEREAL_ALLOWED_MODELS`` or ``DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS``.
* ``cereal.W001``: ``DJANGO_CEREAL_ALLOWED_MODELS`` is not set, so a crafted message can make a
  task load any installed model.
* ``cereal.W002``: a task (or the app's default) uses a django-cereal serializer that the Celery
  app's ``accept_content`` does not list, so the worker would refuse its messages.
* ``cereal.W003``: the result serializer is a django-cereal one missing from
  ``result_accept_content``.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from . import DJANGO_CEREAL_JSON, DJANGO_CEREAL_PICKLE, conf

#: Every name django-cereal's serializers are registered under, and the content type of each.
SERIALIZERS = {
    DJANGO_CEREAL_JSON: "application/x-django-cereal-json",
    DJANGO_CEREAL_PICKLE: "application/x-django-cereal-pickle",
    "django_cereal_pickle": "application/x-django-cereal-pickle",
}


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report invalid ``DJANGO_CEREAL_*`` settings (E001–E003) and a missing allow-list (W001)."""
    messages: list[CheckMessage] = []
    for check_id, read, hint in (
        ("cereal.E001", conf.missing_policy, "Use 'raise', 'none' or 'skip'."),
        ("cereal.E002", conf.allowed_models, "Use None or a list such as ['books', 'billing.Invoice']."),
        ("cereal.E003", conf.pickle_allowed_globals, "Use a list such as ['fractions.Fraction']."),
    ):
        try:
            read()
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), hint=hint, id=check_id))
    if not conf.allowed_models_configured():
        messages.append(
            Warning(
                "DJANGO_CEREAL_ALLOWED_MODELS is not set: a message on the broker can make a task load "
                "any installed model (for example auth.User).",
                hint="List the models your tasks receive, e.g. DJANGO_CEREAL_ALLOWED_MODELS = "
                "['books', 'billing.Invoice'], or set it to None to allow every model explicitly.",
                id="cereal.W001",
            )
        )
    return messages


def _accepted(app: Any, setting: str) -> set[str] | None:
    """Content types the app accepts under ``setting`` (``None``: the setting is unset)."""
    from kombu.serialization import prepare_accept_content

    value = app.conf[setting]
    return None if value is None else set(prepare_accept_content(value))


def check_accept_content(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W002/W003: a django-cereal serializer in use that the current Celery app does not accept."""
    from celery import current_app

    app = current_app._get_current_object()
    accepted = _accepted(app, "accept_content") or set()
    users: dict[str, list[str]] = {}  # content type -> what uses it
    names: dict[str, set[str]] = {}  # content type -> serializer names used for it
    if app.conf.task_serializer in SERIALIZERS:
        content_type = SERIALIZERS[app.conf.task_serializer]
        users.setdefault(content_type, []).append("task_serializer")
        names.setdefault(content_type, set()).add(app.conf.task_serializer)
    try:
        tasks = app.tasks  # finalizes the app, as sending a task would
    except RuntimeError:  # an app created with autofinalize=False and not finalized yet
        tasks = {}
    for name, task in sorted(tasks.items()):
        serializer = getattr(task, "serializer", None)
        if serializer in SERIALIZERS and serializer != app.conf.task_serializer:
            content_type = SERIALIZERS[serializer]
            users.setdefault(content_type, []).append(f"task {name}")
            names.setdefault(content_type, set()).add(serializer)
    messages: list[CheckMessage] = []
    for content_type, where in sorted(users.items()):
        if content_type not in accepted:
            shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
            used = " / ".join(repr(name) for name in sorted(names[content_type]))
            messages.append(
                Warning(
                    f"The Celery app does not accept {used} ({shown} uses it): workers refuse these "
                    "messages ('Refusing to deserialize untrusted content') and the tasks never run.",
                    hint=f"Add {min(names[content_type])!r} to CELERY_ACCEPT_CONTENT (accept_content).",
                    id="cereal.W002",
                )
            )
    result_serializer = app.conf.result_serializer
    if result_serializer in SERIALIZERS:
        result_accepted = _accepted(app, "result_accept_content")
        if SERIALIZERS[result_serializer] not in (accepted if result_accepted is None else result_accepted):
            messages.append(
                Warning(
                    f"The result serializer {result_serializer!r} is not in the accepted content for "
                    "results: reading a result fails with ContentDisallowed.",
                    hint=f"Add {result_serializer!r} to CELERY_RESULT_ACCEPT_CONTENT "
                    "(or to CELERY_ACCEPT_CONTENT when that is unset).",
                    id="cereal.W003",
                )
            )
    return messages
