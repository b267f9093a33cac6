"""Model instances <-> references, and loading referenced rows in batches.

A reference is ``(model label, primary key, database alias)``; nothing else of an instance
ever goes on the wire. Decoding only builds :class:`Reference` placeholders (cheap, no query,
never raises for a missing row); rows are loaded when the task starts, one query per model
class and database (``in_bulk``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

from . import conf
from .exceptions import (
    InvalidReference,
    ModelNotAllowed,
    ModelNotAllowedToSend,
    UnknownModelError,
    UnsavedInstanceError,
)

logger = logging.getLogger(__name__)

#: How many references an error message or log line names before it only counts the rest.
SHOWN = 5


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (values in errors may come from crafted messages)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class Reference:
    """A placeholder for one row: model label, primary key and database alias.

    Decoders produce these; the task receives loaded instances instead. A reference that ends
    up somewhere django-cereal does not look (inside an arbitrary object's attributes, or in a
    non-Celery kombu message) can be loaded with :meth:`load`.
    """

    __slots__ = ("alias", "label", "pk")

    def __init__(self, label: str, pk: Any, alias: str = DEFAULT_DB_ALIAS) -> None:
        """:raises InvalidReference: a label or alias that is not a non-empty string, or a
        primary key that is ``None``, a bool or unhashable."""
        if type(label) is not str or not label:
            raise InvalidReference(f"the model label must be a non-empty string, not {_short(label)}")
        if type(alias) is not str or not alias:
            raise InvalidReference(f"the database alias must be a non-empty string, not {_short(alias)}")
        if pk is None or type(pk) is bool:
            raise InvalidReference(f"the primary key of a {label} reference cannot be {pk!r}")
        try:
            hash(pk)
        except TypeError:
            raise InvalidReference(
                f"the primary key of a {label} reference must be hashable, not {type(pk).__name__} "
                f"{_short(pk)}"
            ) from None
        self.label = label
        self.pk = pk
        self.alias = alias

    def key(self) -> tuple[Any, ...]:
        """The wire form: ``(label, pk)``, plus the alias when it is not ``default``."""
        if self.alias == DEFAULT_DB_ALIAS:
            return (self.label, self.pk)
        return (self.label, self.pk, self.alias)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reference):
            return NotImplemented
        return (self.label, self.pk, self.alias) == (other.label, other.pk, other.alias)

    def __hash__(self) -> int:
        return hash((self.label, self.pk, self.alias))

    def __repr__(self) -> str:
        return f"<Reference {self.label} pk={self.pk!r} db={self.alias!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ref, self.key())

    def __json__(self) -> dict[str, Any]:
        """Plain form for kombu's own JSON (e.g. a result backend storing task arguments)."""
        return {"model": self.label, "pk": self.pk, "db": self.alias}

    def load(self) -> Model | None:
        """Load the row now, applying the missing-row policy (``"skip"`` raises ``Ignore``)."""
        return load_references([self])[self]


def _ref(label: str, pk: Any, alias: str = DEFAULT_DB_ALIAS) -> Reference:
    """Rebuilds a :class:`Reference` pickled with plain pickle (e.g. by a pickle result backend)."""
    return Reference(label, pk, alias)


_labels: dict[type, str] = {}


def _label(model: type[Model]) -> str:
    """The model's label, one string object per class (pickle writes a repeated object once)."""
    label = _labels.get(model)
    if label is None:
        label = _labels[model] = model._meta.label
    return label


def _check_allowed(label: str) -> None:
    if not conf.is_model_allowed(label):
        raise ModelNotAllowedToSend(
            f"{label} is not in DJANGO_CEREAL_ALLOWED_MODELS, so it cannot be sent to a task."
        )


def instance_key(obj: Model) -> tuple[Any, ...]:
    """Wire form of one saved instance: ``(label, pk)``, plus the alias off the default database.

    :raises UnsavedInstanceError: the instance has no primary key yet.
    :raises ModelNotAllowed: the model is outside ``DJANGO_CEREAL_ALLOWED_MODELS``.
    """
    label = _label(type(obj))
    pk = obj.pk
    if pk is None:
        raise UnsavedInstanceError(
            f"Cannot send an unsaved {label} instance to a task: its primary key is None. "
            "Save it first (django-cereal sends only model, primary key and database)."
        )
    _check_allowed(label)
    alias = obj._state.db or DEFAULT_DB_ALIAS
    return (label, pk) if alias == DEFAULT_DB_ALIAS else (label, pk, alias)


def group_key(items: Any) -> tuple[Any, ...] | None:
    """Wire form of a list/tuple made only of instances of one model from one database.

    ``(label, [pk, ...])`` plus the alias off the default database; ``None`` when ``items`` is
    not such a sequence (fewer than two items, mixed models or databases, other values).
    """
    if len(items) < 2:
        return None
    first = items[0]
    model = type(first)
    if not isinstance(first, Model):
        return None
    alias = first._state.db
    pks = []
    for obj in items:
        if type(obj) is not model or obj._state.db != alias or obj.pk is None:
            return None  # mixed or unsaved: encoded one by one (unsaved ones are refused there)
        pks.append(obj.pk)
    label = _label(model)
    _check_allowed(label)
    alias = alias or DEFAULT_DB_ALIAS
    return (label, pks) if alias == DEFAULT_DB_ALIAS else (label, pks, alias)


def queryset_key(qs: QuerySet) -> tuple[Any, ...] | list[Any]:
    """What a QuerySet argument becomes: ``(label, [pk, ...][, alias])`` in the queryset's order.

    Model querysets are evaluated at send time to their primary keys (rows already cached in
    the queryset are used without a query) and arrive as a list of fresh instances;
    ``values()``/``values_list()`` querysets are sent as a plain list of their rows.
    """
    if not issubclass(qs._iterable_class, ModelIterable):
        return list(qs)
    label = _label(qs.model)
    _check_allowed(label)
    if qs._result_cache is not None:
        pks = [obj.pk for obj in qs._result_cache]
    else:
        pks = list(qs.values_list("pk", flat=True))
    return (label, pks) if qs.db == DEFAULT_DB_ALIAS else (label, pks, qs.db)


def references(label: str, pks: list[Any], alias: str = DEFAULT_DB_ALIAS) -> list[Reference]:
    """Placeholders for a group encoded by :func:`group_key` or :func:`queryset_key`."""
    return [Reference(label, pk, alias) for pk in pks]


def _model_for(label: str) -> type[Model]:
    if not conf.is_model_allowed(label):
        logger.warning(
            "django-cereal: refused a reference to %s (not in DJANGO_CEREAL_ALLOWED_MODELS)", label
        )
        raise ModelNotAllowed(
            f"Received a reference to {label}, which is not in DJANGO_CEREAL_ALLOWED_MODELS."
        )
    try:
        return apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise UnknownModelError(
            f"Received a reference to model {_short(label)}, which is not installed in this process."
        ) from exc


def _in_bulk(model: type[Model], alias: str, pks: list[Any]) -> dict[Any, Model]:
    """``in_bulk`` on the model's base manager; on a stale connection close it and retry once.

    Inside an atomic block the error is raised as is: closing the connection would break the
    surrounding transaction.
    """
    manager = model._base_manager.db_manager(alias)
    try:
        return manager.in_bulk(pks)
    except OperationalError:
        connection = connections[alias]
        if connection.in_atomic_block:
            raise
        logger.warning("django-cereal: database %r failed; reconnecting and retrying once", alias)
        connection.close()
        return manager.in_bulk(pks)


def _wanted_keys(model: type[Model], group: list[Reference]) -> dict[Any, Reference]:
    """``{primary key as the model's field reads it: reference}``; a key the field rejects is an error."""
    to_python = model._meta.pk.to_python
    wanted = {}
    for ref in group:
        try:
            wanted[to_python(ref.pk)] = ref
        except (ValidationError, TypeError, ValueError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise InvalidReference(
                f"Received a reference to {ref.label} with primary key {_short(ref.pk)}, which is not a "
                f"valid primary key of that model: {message}"
            ) from exc
    return wanted


def fetch_references(refs: Iterable[Reference]) -> tuple[dict[Reference, Model], list[Reference]]:
    """Load rows for ``refs``: one query per (model, database). Returns ``(found, missing)``.

    :raises ModelNotAllowed, UnknownModelError, InvalidReference: a reference that cannot be loaded.
    """
    groups: dict[tuple[str, str], list[Reference]] = defaultdict(list)
    for ref in refs:
        groups[(ref.label, ref.alias)].append(ref)
    found: dict[Reference, Model] = {}
    missing: list[Reference] = []
    for (label, alias), group in groups.items():
        model = _model_for(label)
        if alias not in connections.settings:
            raise InvalidReference(
                f"Received a reference to {label} pk={_short(group[0].pk)} in database {_short(alias)}, "
                "which is not in DATABASES."
            )
        wanted = _wanted_keys(model, group)
        rows = _in_bulk(model, alias, list(wanted))
        by_key = {model._meta.pk.to_python(pk): obj for pk, obj in rows.items()}
        for key, ref in wanted.items():
            obj = by_key.get(key)
            if obj is None:
                missing.append(ref)
            else:
                found[ref] = obj
    return found, missing


def describe(refs: list[Reference]) -> str:
    """``label pk=... (database ...)`` for the first :data:`SHOWN` references, then a count of the rest."""
    shown = ", ".join(f"{ref.label} pk={_short(ref.pk)} (database {ref.alias!r})" for ref in refs[:SHOWN])
    rest = len(refs) - SHOWN
    return f"{len(refs)} rows: {shown} and {rest} more" if rest > 0 else shown


def _current_task() -> Any:
    from celery import current_task

    task = current_task._get_current_object() if current_task else None
    return task


def _policy(task: Any, policy: str | None) -> str:
    if policy is not None:
        return conf.check_missing_policy(policy, "The cereal_missing option")
    override = getattr(task, "cereal_missing", None)
    if override is not None:
        return conf.check_missing_policy(override, f"The cereal_missing option of task {task.name}")
    return conf.missing_policy()


def load_references(
    refs: Iterable[Reference], *, policy: str | None = None, when: str | None = None
) -> dict[Reference, Model | None]:
    """Load ``refs`` and apply the missing-row policy.

    :param policy: overrides the task option ``cereal_missing`` and ``DJANGO_CEREAL_MISSING``.
    :param when: how error messages name the moment of loading (default: "when loaded").
    :returns: a mapping from each reference to its fresh instance (or ``None`` under the
        ``"none"`` policy).
    :raises Model.DoesNotExist: a row is missing and the policy is ``"raise"``.
    :raises celery.exceptions.Ignore: a row is missing and the policy is ``"skip"``.
    """
    from .signals import references_missing

    refs = list(dict.fromkeys(refs))
    found, missing = fetch_references(refs)
    result: dict[Reference, Model | None] = dict(found)
    if not missing:
        return result
    task = _current_task()
    policy = _policy(task, policy)
    when = when or "when loaded"
    references_missing.send(sender=Reference, references=missing, policy=policy, task=task)
    described = describe(missing)
    if policy == "raise":
        model = apps.get_model(missing[0].label)
        verb = "were" if len(missing) > 1 else "was"
        raise model.DoesNotExist(
            f"{described} {verb} not found {when}: deleted after the message was sent, deleted before "
            "it was sent, or never saved with that primary key (django-cereal cannot tell which)."
        )
    if policy == "skip":
        from celery.exceptions import Ignore

        logger.warning(
            "django-cereal: skipping task %s: %s not found %s", getattr(task, "name", "?"), described, when
        )
        raise Ignore(f"skipped: {described} not found {when}")
    for ref in missing:
        result[ref] = None
    return result
