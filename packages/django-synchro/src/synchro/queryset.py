"""Opt-in logging of bulk writes: ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()``.

Django sends no per-object signals for these, so they are not logged by default. Give a
watched model ``objects = SynchroManager()`` (or build your own manager from
:class:`SynchroQuerySet`) and they are logged, in the same transaction as the write.
"""

from __future__ import annotations

from typing import Any

from django.db import models, router, transaction

from .handlers import ADDITION, CHANGE, DisableSynchroLog, logging_enabled, write_logs
from .settings import synchro_settings


class SynchroQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes are logged for synchronization."""

    def _logging(self) -> bool:
        return logging_enabled() and synchro_settings.is_watched(self.model)

    def _write_alias(self) -> str:
        return self._db or router.db_for_write(self.model, **self._hints)  # type: ignore[attr-defined]

    def update(self, **kwargs: Any) -> int:
        if not self._logging():
            return super().update(**kwargs)
        using = self._write_alias()
        with transaction.atomic(using=using):
            pks = list(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            write_logs(using, self.model, pks, CHANGE)
        return count

    def bulk_create(self, objs, *args: Any, **kwargs: Any):
        if not self._logging():
            return super().bulk_create(objs, *args, **kwargs)
        using = self._write_alias()
        with transaction.atomic(using=using):
            created = super().bulk_create(objs, *args, **kwargs)
            write_logs(using, self.model, [o.pk for o in created if o.pk is not None], ADDITION)
        return created

    def bulk_update(self, objs, fields, *args: Any, **kwargs: Any) -> int:
        if not self._logging():
            return super().bulk_update(objs, fields, *args, **kwargs)
        objs = list(objs)
        using = self._write_alias()
        with transaction.atomic(using=using):
            with DisableSynchroLog():  # bulk_update calls update(); log each object once
                count = super().bulk_update(objs, fields, *args, **kwargs)
            write_logs(using, self.model, [o.pk for o in objs], CHANGE)
        return count


class SynchroManager(models.Manager.from_queryset(SynchroQuerySet)):  # type: ignore[misc]
    """A manager whose bulk writes are logged (see :class:`SynchroQuerySet`)."""
