# Without the django-stubs mypy plugin (not loaded by the monorepo config) Django's _meta API
# types fields and related models loosely; these codes would only repeat that.
# mypy: disable-error-code="var-annotated,attr-defined"
"""Synchro's tables: the change log, the pk map, checkpoints, quarantine, and ``options``.

The tables live in every database synchro talks to: LOCAL and REMOTE each keep a
log of their own changes, and the side a batch is written to keeps the pk map and
the checkpoint, so both change in the same transaction as the synchronized rows.
"""

from __future__ import annotations

import datetime
import uuid

import dbsettings
from dbsettings.loading import get_setting_storage
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

# What a log entry says happened to its object.
ADDITION, CHANGE, DELETION, M2M_CHANGE = 1, 2, 3, 4


class ChangeLog(models.Model):
    """One logged addition, change, deletion or m2m change of a watched object.

    ``id`` is the log position: it only grows, so a checkpoint is "everything up to id N".
    """

    ADDITION, CHANGE, DELETION, M2M_CHANGE = ADDITION, CHANGE, DELETION, M2M_CHANGE
    ACTIONS = (
        (ADDITION, _("addition")),
        (CHANGE, _("change")),
        (DELETION, _("deletion")),
        (M2M_CHANGE, _("m2m change")),
    )

    id = models.BigAutoField(primary_key=True)
    model = models.CharField(_("model"), max_length=200)
    object_id = models.CharField(_("object id"), max_length=255)
    action = models.PositiveSmallIntegerField(_("action"), choices=ACTIONS)
    date = models.DateTimeField(_("date"), default=timezone.now)
    natural_key = models.JSONField(_("natural key"), null=True, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("change log entry")
        verbose_name_plural = _("change log")
        # Conflict checks look entries up by object id (then model). Every other query walks
        # the ids (the checkpoint is an id). One narrow index: every logged save maintains it.
        indexes = [models.Index(fields=["object_id"], name="synchro_log_object_id_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.model} {self.object_id}"


class Reference(models.Model):
    """``object_id`` in this database is the same object as ``peer_object_id`` on ``peer``."""

    peer = models.CharField(_("peer"), max_length=64)
    model = models.CharField(_("model"), max_length=200)
    object_id = models.CharField(_("object id"), max_length=255)
    peer_object_id = models.CharField(_("peer object id"), max_length=255)

    class Meta:
        verbose_name = _("reference")
        verbose_name_plural = _("references")
        constraints = [
            models.UniqueConstraint(fields=["peer", "model", "peer_object_id"], name="synchro_ref_peer_uniq"),
        ]
        indexes = [models.Index(fields=["peer", "model", "object_id"], name="synchro_ref_local_idx")]

    def __str__(self) -> str:
        return f"{self.model} {self.object_id} = {self.peer_object_id}@{self.peer}"


class Checkpoint(models.Model):
    """How far the change log of database ``source`` has been applied to this database."""

    source = models.CharField(_("source"), max_length=64, unique=True)
    position = models.BigIntegerField(_("position"), default=0)
    synced_at = models.DateTimeField(_("synchronized at"), null=True, blank=True)
    last_check = models.CharField(max_length=64, blank=True, default="")
    # Log ids below ``position`` that were missing when it was written (see synchro.gaps).
    gaps = models.JSONField(_("awaited log ids"), default=list, blank=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return f"{self.source}: {self.position}"


class Node(models.Model):
    """The identity of a database, created the first time synchro needs it.

    ``own`` is unique, so two synchronizations that start at once on a fresh database
    cannot give it two identities: the second insert fails and reads the first.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(default=timezone.now)
    own = models.BooleanField(default=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("node")
        verbose_name_plural = _("nodes")

    def __str__(self) -> str:
        return str(self.id)


class FailedChange(models.Model):
    """A change put aside by ``synchronize --continue-on-error`` instead of blocking every sync."""

    direction = models.CharField(_("direction"), max_length=8)
    model = models.CharField(_("model"), max_length=200)
    object_id = models.CharField(_("object id"), max_length=255)
    log_id = models.BigIntegerField(_("log position"))
    error = models.TextField(_("error"))
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("failed change")
        verbose_name_plural = _("failed changes")
        constraints = [
            models.UniqueConstraint(fields=["direction", "model", "object_id"], name="synchro_failed_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.object_id}: {self.error}"


class Synchronization(ChangeLog):
    """The admin index entry that leads to the synchronization page (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("synchronization")
        verbose_name_plural = _("synchronization")


class ExactDateTimeValue(dbsettings.DateTimeValue):
    """A dbsettings datetime stored with microseconds and its time zone (ISO 8601).

    Read back, it is a naive datetime in local time, what ``datetime.now()`` gives, as
    dbsettings' own ``DateTimeValue`` returns it and django-synchro 0.7 compared it;
    :meth:`exact` returns the stored moment itself. A naive value assigned under
    ``USE_TZ`` is taken as local time too.
    """

    def get_db_prep_save(self, value, **kwargs):
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        if settings.USE_TZ and timezone.is_naive(value):
            value = value.astimezone()
        return value.isoformat()

    def to_python(self, value):
        if isinstance(value, str):
            value = (parse_datetime(value) or super().to_python(value)) if value else None
        if isinstance(value, datetime.datetime) and timezone.is_aware(value):
            value = value.astimezone().replace(tzinfo=None)
        return value

    def exact(self) -> datetime.datetime | None:
        """The stored moment: aware under ``USE_TZ``."""
        raw = get_setting_storage(*self.key).value
        if not raw:
            return None
        value = raw if isinstance(raw, datetime.datetime) else parse_datetime(raw) or super().to_python(raw)
        if value is not None and settings.USE_TZ and timezone.is_naive(value):
            value = value.astimezone()
        return value


class SynchroOptions(dbsettings.Group):
    last_check = ExactDateTimeValue(
        _("Last synchronization"),
        help_text=_("Changes logged after this moment are synchronized next time."),
        required=False,
    )


options = SynchroOptions(app_label="synchro")


def last_check_moment() -> datetime.datetime | None:
    """``options.last_check`` as the exact moment stored (aware under ``USE_TZ``)."""
    value: ExactDateTimeValue = type(options).__dict__["last_check"]
    return value.exact()
