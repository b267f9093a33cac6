# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="union-attr,attr-defined"
"""Rows of the target that point at a copy about to be deleted, through a foreign key that
protects it (``PROTECT``, ``RESTRICT``) or goes with it (``CASCADE``).

LOCAL deleted the object only after its referrers had moved away or were deleted, so the
replay moves or deletes their copies first (:mod:`synchro.replay`). ``SET_NULL`` and the
like need no order: the target's deletion does to its rows what LOCAL's did to its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from .sql import chunks, column_in

_cache: dict[type[models.Model], tuple[models.ForeignKey, ...]] = {}

ORDERED = (models.CASCADE, models.PROTECT, models.RESTRICT)


def incoming(model: type[models.Model]) -> tuple[models.ForeignKey, ...]:
    """Foreign keys (of any model) to ``model``'s pk whose deletion behaviour needs an order.

    Automatic m2m tables are left out: their rows follow the deletion on both sides, and the
    relations of logged objects are copied whole after the batch's objects.
    """
    found = _cache.get(model)
    if found is None:
        found = tuple(
            relation.field
            for relation in model._meta.related_objects
            if not relation.many_to_many
            and relation.field.concrete
            and relation.on_delete in ORDERED
            and relation.field.target_field.primary_key
            and not relation.related_model._meta.auto_created
        )
        _cache[model] = found
    return found


def pointing(alias: str, fk: models.ForeignKey, targets: Iterable[Any]) -> list[tuple[Any, Any]]:
    """``(pk, fk value)`` of the rows on ``alias`` whose ``fk`` is one of ``targets``."""
    model = fk.model
    found: list[tuple[Any, Any]] = []
    manager = model._base_manager.using(alias)
    for chunk in chunks(targets):
        found.extend(manager.filter(column_in(model, fk, chunk, alias)).values_list("pk", fk.attname))
    return found
