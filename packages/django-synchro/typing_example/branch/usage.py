"""django-synchro's public API as a project uses it; the checkers must see real types."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver
from typing_extensions import assert_type

from branch.models import Event, Tag
from synchro import (
    Conflict,
    DisableSynchroLog,
    Summary,
    SyncError,
    call_synchronize,
    disable_synchro_log,
    log_changes,
    reset_synchro,
    retry_failed,
)


def show_progress(done: int, total: int) -> None:
    print(f"{done}/{total}")


def nightly() -> None:
    summary = call_synchronize()
    assert_type(summary, Summary)
    assert_type(summary.added + summary.changed + summary.deleted + summary.failed, int)
    assert_type(summary.conflicts, list[Conflict])
    assert_type(summary.errors, list[str])
    for conflict in summary.conflicts:
        assert_type(conflict.local_date, datetime.datetime)
        assert_type(conflict.deletion, bool)
    try:
        call_synchronize(
            "both",
            batch_size=500,
            dry_run=True,
            continue_on_error=True,
            models=[Event, Tag],
            progress=show_progress,
        )
    except SyncError as exc:
        print(exc)
    assert_type(retry_failed("push"), int)
    call_synchronize(batch_size="many")  # type: ignore[arg-type]  # a batch size is an int


def natural_keys() -> None:
    event = Event.objects.get_by_natural_key("launch", datetime.date(2025, 1, 1))
    assert_type(event, Event)
    assert_type(Event.objects.filter(code="launch").first(), Event | None)
    assert_type(Tag.objects.get_by_natural_key("news"), Tag)


def quietly(event: Event) -> None:
    with DisableSynchroLog():
        event.save()
    log_changes(Event, [event.pk], "change")
    reset_synchro()


@receiver(post_delete, sender=Event)
@disable_synchro_log
def forget_event(sender: type[Event], instance: Event, **kwargs: Any) -> None:
    pass


assert_type(forget_event(Event, Event()), None)
