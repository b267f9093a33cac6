"""Changes committed late, below the checkpoint, still reach REMOTE (log ids skipped = gaps)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections, transaction
from django.test import override_settings

from synchro.models import ChangeLog, Checkpoint
from tests.helpers import names, sync
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db(databases=["default", "remote"], transaction=True)


def awaited(log_id: int) -> bool:
    """Whether REMOTE's checkpoint still waits for the LOCAL log entry ``log_id``."""
    gaps = Checkpoint.objects.using("remote").get().gaps
    return any(low <= log_id <= high for low, high, _ in gaps)


class OpenTransaction:
    """A second connection (another thread) that inserts an author and keeps its transaction open."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inserted = threading.Event()
        self.finish = threading.Event()
        self.commit = True
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            with transaction.atomic():
                Author.objects.create(name=self.name)
                self.inserted.set()
                self.finish.wait(60)
                if not self.commit:
                    transaction.set_rollback(True)
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self.inserted.set()
            connections.close_all()

    def __enter__(self) -> OpenTransaction:
        self.thread.start()
        self.inserted.wait(60)
        assert self.error is None, self.error
        return self

    def end(self, commit: bool = True) -> None:
        self.commit = commit
        self.finish.set()
        self.thread.join(60)
        assert self.error is None, self.error

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.end(commit=False)


@pytest.mark.vendor("postgresql", "mysql")
def test_a_change_committed_after_a_sync_with_a_lower_log_id_arrives_exactly_once():
    with OpenTransaction("slow") as other:
        Author.objects.create(name="quick")  # logged with a higher id, committed first
        sync()
        assert names(Author) == ["quick"]
        other.end(commit=True)
    slow_log = ChangeLog.objects.get(object_id=str(Author.objects.get(name="slow").pk))
    assert slow_log.id < Checkpoint.objects.using("remote").get().position  # committed below it
    assert awaited(slow_log.id)
    summary = sync()
    assert (summary.logs, summary.added) == (1, 1)
    assert names(Author) == ["quick", "slow"]
    assert not awaited(slow_log.id)
    assert sync().logs == 0
    assert names(Author) == ["quick", "slow"]


@pytest.mark.vendor("postgresql", "mysql")
def test_a_rolled_back_transaction_leaves_a_gap_that_is_forgotten_after_the_timeout():
    with OpenTransaction("never") as other:
        Author.objects.create(name="quick")
        sync()
        other.end(commit=False)
    skipped = ChangeLog.objects.get().id - 1  # the rolled-back transaction's log id
    assert awaited(skipped)
    assert sync().logs == 0  # still waiting for it
    assert awaited(skipped)
    with override_settings(SYNCHRO_GAP_TIMEOUT=datetime.timedelta(0)):
        sync()
    assert Checkpoint.objects.using("remote").get().gaps == []
    assert names(Author) == ["quick"]


def test_a_log_entry_that_appears_below_the_checkpoint_is_synchronized():
    """Any engine: a missing id is re-checked until its row shows up."""
    for name in ("a", "b", "c", "d"):
        Author.objects.create(name=name)
    late = {log.object_id: log for log in ChangeLog.objects.all()}[str(Author.objects.get(name="b").pk)]
    ChangeLog.objects.filter(id=late.id).delete()  # as if its transaction had not committed yet
    sync(batch_size=2)
    assert names(Author) == ["a", "c", "d"]
    late.save(force_insert=True)  # the same id commits now
    summary = sync(batch_size=2)
    assert (summary.logs, summary.added) == (1, 1)
    assert names(Author) == ["a", "b", "c", "d"]
    assert not awaited(late.id)
    assert sync().logs == 0
