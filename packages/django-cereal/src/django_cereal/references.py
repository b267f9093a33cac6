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
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

from . import conf
from .exceptions import ModelNotAllowed, UnknownModelError, UnsavedInstanceError

logger = logging.getLogger("django_cereal")


class Reference:
    """A placeholder for one row: model label, primary key and database alias.

    Decoders produce these; the task receives loaded instances instead. A reference that ends
    up somewhere django-cereal does not look (inside an arbitrary object's attributes, or in a
    non-Celery kombu message) can be loaded with :meth:`load`.
    """

    __slots__ = ("alias", "label", "pk")

    def __init__(self, label: str, pk: Any, alias: str = DEFAULT_DB_ALIAS) -> None:
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
        raise ModelNotAllowed(
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
        raise ModelNotAllowed(
            f"Received a reference to {label}, which is not in DJANGO_CEREAL_ALLOWED_MODELS."
        )
    try:
        return apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise UnknownModelError(
            f"Received a reference to model {label!r}, which is not installed in this process."
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


def fetch_references(refs: Iterable[Reference]) -> tuple[dict[Reference, Model], list[Reference]]:
    """Load rows for ``refs``: one query per (model, database). Returns ``(found, missing)``."""
    groups: dict[tuple[str, str], list[Reference]] = defaultdict(list)
    for ref in refs:
        groups[(ref.label, ref.alias)].append(ref)
    found: dict[Reference, Model] = {}
    missing: list[Reference] = []
    for (label, alias), group in groups.items():
        model = _model_for(label)
        to_python = model._meta.pk.to_python
        wanted = {to_python(ref.pk): ref for ref in group}
        rows = _in_bulk(model, alias, list(wanted))
        by_key = {to_python(pk): obj for pk, obj in rows.items()}
        for key, ref in wanted.items():
            obj = by_key.get(key)
            if obj is None:
                missing.append(ref)
            else:
                found[ref] = obj
    return found, missing


def _current_task() -> Any:
    from celery import current_task

    task = current_task._get_current_object() if current_task else None
    return task


def load_references(refs: Iterable[Reference]) -> dict[Reference, Model | None]:
    """Load ``refs`` and apply the missing-row policy.

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
    override = getattr(task, "cereal_missing", None)
    if override is not None:
        policy = conf.check_missing_policy(override, f"The cereal_missing option of task {task.name}")
    else:
        policy = conf.missing_policy()
    references_missing.send(sender=Reference, references=missing, policy=policy, task=task)
    described = ", ".join(f"{ref.label} pk={ref.pk!r} (database {ref.alias!r})" for ref in missing)
    if policy == "raise":
        model = apps.get_model(missing[0].label)
        raise model.DoesNotExist(
            f"{described} no longer exists: the row was deleted after the task was sent."
        )
    if policy == "skip":
        from celery.exceptions import Ignore

        logger.warning(
            "django-cereal: skipping task %s: %s no longer exists", getattr(task, "name", "?"), described
        )
        raise Ignore(f"skipped: {described} no longer exists")
    for ref in missing:
        result[ref] = None
    return result
