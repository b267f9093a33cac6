# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""What a synchronization needs to know about a model's fields, worked out once per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext as _

from .results import SyncError
from .settings import synchro_settings


@dataclass(frozen=True)
class ModelInfo:
    model: type[models.Model]
    label: str  # "app_label.modelname", as in the log
    auto_pk: bool  # an auto-increment pk: the target picks its own, the pk map links them
    skip: frozenset[str]  # SYNCHRO_SKIP
    foreign_keys: tuple[models.Field, ...]  # FKs to a primary key that are copied
    copied: tuple[models.Field, ...]  # every concrete non-pk field that is copied
    skipped: tuple[models.Field, ...]  # concrete fields in SYNCHRO_SKIP (new copies get defaults)
    concrete: tuple[models.Field, ...]  # every concrete non-pk field (a whole overwrite)
    # Sets of copied fields whose values must be unique together (unique fields, unique_together,
    # unconditional UniqueConstraints); the replay keeps two objects from holding one value at once.
    uniques: tuple[tuple[models.Field, ...], ...] = ()

    def pk_value(self, source_pk: str) -> Any:
        """The pk as Python value, from its text form in the log."""
        return self.model._meta.pk.to_python(source_pk)

    def m2m_fields(self) -> list[models.ManyToManyField]:
        """The m2m fields copied with the object: not skipped, and not through a watched model
        (a watched through model is synchronized as a model of its own)."""
        return [
            f
            for f in self.model._meta.many_to_many
            if f.name not in self.skip
            and (through_model(f)._meta.auto_created or not synchro_settings.is_watched(through_model(f)))
        ]


def related_model(field: models.Field | models.ForeignObjectRel) -> type[models.Model]:
    """The model a relation points at (Django has resolved ``"self"`` and names by now)."""
    model = field.related_model
    if not isinstance(model, type):
        raise TypeError(f"{field} points at {model!r}, which is not a model class")
    return model


def through_model(field: models.ManyToManyField) -> type[models.Model]:
    through = field.remote_field.through
    if not isinstance(through, type):
        raise TypeError(f"{field} goes through {through!r}, which is not a model class")
    return through


def field_named(model: type[models.Model], name: str) -> models.Field:
    """A concrete field of ``model`` (m2m ends of a through model, log columns)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model._meta.label}.{name} is not a field")
    return field


_cache: dict[type[models.Model], ModelInfo] = {}


def model_info(model: type[models.Model]) -> ModelInfo:
    info = _cache.get(model)
    if info is None:
        meta = model._meta
        skip = frozenset(getattr(model, "SYNCHRO_SKIP", ()) or ())
        # Generated columns are computed by the database, never written.
        concrete = tuple(
            f for f in meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)
        )
        copied = tuple(f for f in concrete if f.name not in skip)
        info = ModelInfo(
            model=model,
            label=meta.label_lower,
            auto_pk=isinstance(meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField),
            skip=skip,
            foreign_keys=tuple(
                f for f in concrete if f.is_relation and f.name not in skip and f.target_field.primary_key
            ),
            copied=copied,
            skipped=tuple(f for f in concrete if f.name in skip),
            concrete=concrete,
            uniques=_unique_sets(model, copied),
        )
        _cache[model] = info
    return info


def _unique_sets(
    model: type[models.Model], copied: tuple[models.Field, ...]
) -> tuple[tuple[models.Field, ...], ...]:
    """The sets of copied fields that are unique together (the pk aside), each once."""
    meta = model._meta
    sets: list[tuple[str, ...]] = [(f.name,) for f in copied if f.unique]
    sets.extend(tuple(names) for names in meta.unique_together)
    sets.extend(tuple(c.fields) for c in meta.total_unique_constraints if c.fields)
    by_name = {f.name: f for f in copied}
    found: dict[tuple[str, ...], tuple[models.Field, ...]] = {}
    for names in sets:
        if names and all(n in by_name for n in names):  # a skipped field: not ours to keep unique
            found.setdefault(names, tuple(by_name[n] for n in names))
    return tuple(found.values())


def forget_models() -> None:
    """Drop the cached facts (each run starts afresh: SYNCHRO_SKIP or the watched set may change)."""
    _cache.clear()


def model_for_label(label: str) -> type[models.Model]:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        raise SyncError(
            _("the log names model %(model)r, which is not installed") % {"model": label}
        ) from None
