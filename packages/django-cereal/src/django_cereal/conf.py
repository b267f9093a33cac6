"""The one place where django-cereal reads Django settings.

Values are read on every call (no cache), so ``override_settings`` takes effect at once.

``DJANGO_CEREAL_MISSING``
    What a task gets when a referenced row was deleted before it ran: ``"raise"`` (default: the
    task fails with ``Model.DoesNotExist``), ``"none"`` (the argument becomes ``None``) or
    ``"skip"`` (the task does not run; Celery's ``Ignore``). A task may override it with the
    task option ``cereal_missing``.
``DJANGO_CEREAL_ALLOWED_MODELS``
    ``None`` (default: any model) or a list of ``"app_label"`` / ``"app_label.ModelName"``
    entries; other models are refused both when sending and when the task starts. When it is
    not set at all, the system check ``cereal.W001`` says so.
``DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS``
    Extra globals (``"module.QualifiedName"`` strings) that ``django-cereal-pickle`` may rebuild,
    besides its built-in allow-list (builtin containers and scalars, ``datetime``, ``decimal``,
    ``uuid``); default ``[]``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MISSING_POLICIES = ("raise", "none", "skip")
DEFAULTS = {
    "DJANGO_CEREAL_MISSING": "raise",
    "DJANGO_CEREAL_ALLOWED_MODELS": None,
    "DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS": (),
}


def _get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def allowed_models_configured() -> bool:
    """Whether the project set ``DJANGO_CEREAL_ALLOWED_MODELS`` at all (``None`` counts as set)."""
    return hasattr(settings, "DJANGO_CEREAL_ALLOWED_MODELS")


def check_missing_policy(value: object, source: str = "DJANGO_CEREAL_MISSING") -> str:
    """Return ``value`` if it is a known missing-row policy, else raise ``ImproperlyConfigured``."""
    if value not in MISSING_POLICIES:
        choices = ", ".join(repr(choice) for choice in MISSING_POLICIES)
        raise ImproperlyConfigured(f"{source} must be one of {choices}; got {value!r}.")
    return value


def missing_policy() -> str:
    """The project-wide missing-row policy (``DJANGO_CEREAL_MISSING``), validated."""
    return check_missing_policy(_get("DJANGO_CEREAL_MISSING"))


def allowed_models() -> frozenset[str] | None:
    """Lower-cased entries of ``DJANGO_CEREAL_ALLOWED_MODELS``, or ``None`` when every model is allowed."""
    value = _get("DJANGO_CEREAL_ALLOWED_MODELS")
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(item, str) and item for item in value):
        raise ImproperlyConfigured(
            "DJANGO_CEREAL_ALLOWED_MODELS must be None or a list of 'app_label' or "
            f"'app_label.ModelName' strings; got {value!r}."
        )
    return frozenset(item.lower() for item in value)


def is_model_allowed(label: str) -> bool:
    """Whether the model ``label`` (``"app_label.ModelName"``) may travel as a reference."""
    allowed = allowed_models()
    if allowed is None:
        return True
    label = label.lower()
    return label in allowed or label.partition(".")[0] in allowed


def pickle_allowed_globals() -> frozenset[str]:
    """Entries of ``DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS``, validated."""
    value = _get("DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS")
    if isinstance(value, str) or not all(isinstance(item, str) and "." in item for item in value):
        raise ImproperlyConfigured(
            "DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS must be a list of 'module.QualifiedName' strings; "
            f"got {value!r}."
        )
    return frozenset(value)
