"""Signals sent by django-cereal."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent in the worker when rows referenced by a task's arguments no longer exist, before the
#: missing-row policy is applied. Keyword arguments: ``references`` (list of
#: :class:`django_cereal.references.Reference`), ``policy`` (``"raise"``, ``"none"`` or
#: ``"skip"``) and ``task`` (the running Celery task, or ``None`` outside a worker).
references_missing = Signal()
