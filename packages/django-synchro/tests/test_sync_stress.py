"""Stress: syncs killed at many points, two syncs at once, LOCAL written during a sync.

Every test changes LOCAL with :func:`churn` (FK chains created and re-pointed and deleted in one
interval, unique values and natural keys swapped, objects deleted and created again with the same
pk or natural key, m2m and ``through`` rows), synchronizes in some hostile way, and then requires
REMOTE to equal LOCAL row by row (``tests.replay_check.snapshot``: by identity, m2m included) and
a further sync to change nothing.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import threading
import uuid
from typing import Any

import pytest
from django.db import DatabaseError, connections, transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.test import override_settings

from synchro import DisableSynchroLog, SyncError, call_synchronize
from synchro.models import ChangeLog, Checkpoint
from tests import stress_workers
from tests.processes import run_syncs, settings_for_a_process
from tests.replay_check import differences, snapshot
from tests.replayapp.models import Chip, City, Club, Country, Membership, Pet, Vet

BOTH = ["default", "remote"]
pytestmark = pytest.mark.django_db(databases=BOTH, transaction=True)


class Crash(Exception):
    pass


# -- LOCAL's changes


def _name(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.randrange(10**9):x}"


def _pick(rng: random.Random, model):
    pks = list(model.objects.order_by("pk").values_list("pk", flat=True))
    return model.objects.get(pk=rng.choice(pks)) if pks else None


def _chain(rng: random.Random) -> None:
    """Parent created, child created on it, child re-pointed, parent deleted (PROTECT and SET_NULL)."""
    old_vet = Vet.objects.create(name=_name(rng, "v"), badge=_name(rng, "b")[:10])
    parent = Pet.objects.create(name=_name(rng, "p"), vet=old_vet)
    child = Pet.objects.create(name=_name(rng, "p"), vet=old_vet, parent=parent)
    Chip.objects.create(serial=_name(rng, "s"), pet=child)
    new_vet = Vet.objects.create(name=_name(rng, "v"), badge=_name(rng, "b")[:10])
    for pet in (parent, child):
        pet.vet = new_vet
        pet.save()
    old_vet.delete()
    if rng.random() < 0.5:
        parent.delete()  # the child's parent becomes NULL


def _swap(rng: random.Random, model, field: str) -> None:
    """Two rows exchange a unique value through a temporary one (in one interval)."""
    pks = list(model.objects.order_by("pk").values_list("pk", flat=True))
    if len(pks) < 2:
        return
    a, b = (model.objects.get(pk=pk) for pk in rng.sample(pks, 2))
    va, vb = getattr(a, field), getattr(b, field)
    setattr(a, field, "~tmp")
    a.save()
    setattr(b, field, va)
    b.save()
    setattr(a, field, vb)
    a.save()


def _recreate_pet(rng: random.Random) -> None:
    """A pet deleted and created again with the same name (natural key), with a chip of the same pk."""
    pet = _pick(rng, Pet)
    if pet is None:
        return
    chips = list(pet.chips.values_list("id", "serial"))
    name, vet = pet.name, pet.vet_id
    pet.delete()
    again = Pet.objects.create(name=name, vet_id=vet, weight=rng.randrange(1, 999))
    for chip_id, serial in chips[:1]:
        Chip.objects.create(id=chip_id, serial=serial, pet=again, data={"n": rng.random()})


def _m2m(rng: random.Random) -> None:
    club = _pick(rng, Club) or Club.objects.create(name=_name(rng, "c"))
    codes = list(Country.objects.order_by("code").values_list("code", flat=True))
    countries = list(Country.objects.filter(code__in=rng.sample(codes, min(len(codes), rng.randrange(3)))))
    club.countries.set(countries)
    pet = _pick(rng, Pet)
    if pet is not None:
        if Membership.objects.filter(club=club, pet=pet).exists():
            club.members.remove(pet)
        else:
            club.members.add(pet, through_defaults={"role": rng.choice(["a", "b"])})


def _city(rng: random.Random) -> None:
    country = _pick(rng, Country) or Country.objects.create(code=_name(rng, "k")[:10])
    if rng.random() < 0.3 and City.objects.exists():
        _pick(rng, City).delete()  # pets' city becomes NULL
        return
    city = City.objects.create(name=_name(rng, "t"), zone=rng.choice("xyz"), country=country)
    pet = _pick(rng, Pet)
    if pet is not None:
        pet.city = city
        pet.save()


def _plain(rng: random.Random) -> None:
    choice = rng.randrange(4)
    if choice == 0:
        Country.objects.create(code=_name(rng, "k")[:10], name=_name(rng, ""))
    elif choice == 1 and (pet := _pick(rng, Pet)) is not None:
        pet.weight = rng.randrange(1, 999)
        pet.save()
    elif choice == 2 and (chip := _pick(rng, Chip)) is not None:
        chip.delete()
    elif choice == 3 and (vet := _pick(rng, Vet)) is not None and not vet.pets.exists():
        vet.delete()


OPERATIONS = [
    _chain,
    _chain,
    _recreate_pet,
    _m2m,
    _m2m,
    _city,
    _plain,
    _plain,
    lambda rng: _swap(rng, Vet, "badge"),
    lambda rng: _swap(rng, Pet, "name"),
    lambda rng: _swap(rng, Country, "code"),
]


def churn(seed: int, steps: int, *, tolerate_locks: bool = False) -> None:
    """``steps`` random changes of LOCAL, each group in autocommit mode as a user makes them."""
    rng = random.Random(seed)
    for _ in range(steps):
        operation = rng.choice(OPERATIONS)
        try:
            operation(rng)
        except DatabaseError:
            if not tolerate_locks:  # another process held SQLite's write lock for too long
                raise


# -- checks


def assert_equal(alias: str = "remote") -> None:
    diff = differences(snapshot("default"), snapshot(alias))
    assert not diff, "REMOTE differs from LOCAL:\n" + "\n".join(diff)


def assert_settled() -> None:
    """One more sync: REMOTE equals LOCAL, and a second one changes nothing."""
    summary = call_synchronize()
    assert summary.failed == 0, summary.errors
    assert_equal()
    again = call_synchronize()
    assert (again.added, again.changed, again.deleted, again.failed) == (0, 0, 0, 0), again
    assert_equal()


# -- crashes


def _crash_at_write(count: int):
    """A receiver that raises at the ``count``-th object written to REMOTE."""
    seen = [0]

    def receiver(sender, using=None, **kwargs):
        if using == "remote":
            seen[0] += 1
            if seen[0] == count:
                raise Crash(f"write {count}")

    return receiver


def test_a_sync_crashing_at_every_write_resumes_to_an_equal_remote():
    """Each run dies one write later than the previous one (inside a batch, between batches,
    at the end), with LOCAL changing between runs; the last run completes."""
    churn(1, 30)
    call_synchronize()
    for round_ in range(2):
        churn(100 + round_, 40)
        for count in range(1, 400, 7):
            receiver = _crash_at_write(count)
            post_save.connect(receiver, weak=False)
            post_delete.connect(receiver, weak=False)
            try:
                call_synchronize(batch_size=9)
            except SyncError as exc:
                assert f"write {count}" in str(exc)
                if count % 3 == 0:
                    churn(1000 * round_ + count, 2)
                continue
            finally:
                post_save.disconnect(receiver)
                post_delete.disconnect(receiver)
            break
        else:
            pytest.fail("the sync never completed")
        assert_equal()
    assert_settled()


def run_killed_at_write(kill_at: int, **kwargs: Any) -> tuple[Any, ...]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(
        target=stress_workers.sync_killed_at_write, args=(settings_for_a_process(), kwargs, kill_at, results)
    )
    process.start()
    process.join(120)
    if process.exitcode == -signal.SIGKILL:
        return ("killed", process.exitcode)
    assert process.exitcode == 0, process.exitcode
    return results.get(timeout=10)


def test_a_sync_killed_inside_batches_and_between_them_resumes():
    churn(2, 20)
    call_synchronize()
    churn(3, 60)
    positions = []
    for kill_at in (5, 23, 61):  # SIGKILL in the middle of a batch's transaction
        assert run_killed_at_write(kill_at, batch_size=15) == ("killed", -signal.SIGKILL)
        positions.append(Checkpoint.objects.using("remote").get().position)
    assert positions == sorted(positions)
    assert run_syncs(batch_size=15, kill_after_batches=2) == [("killed", -signal.SIGKILL)]
    assert Checkpoint.objects.using("remote").get().position > positions[-1]
    assert_settled()


# -- two syncs at once


def test_two_syncs_at_once_leave_remote_equal_to_local():
    churn(4, 20)
    call_synchronize()
    for trial in range(2):
        churn(40 + trial, 60)
        outcomes = run_syncs(2, together=True, batch_size=10)
        assert any(outcome == "ok" for outcome, _detail in outcomes), outcomes
        for outcome, detail in outcomes:
            assert outcome == "ok" or "another synchronization" in str(detail), outcomes
    assert_settled()
    assert ChangeLog.objects.using("remote").count() == 0  # REMOTE logged none of the writes


# -- LOCAL written during syncs


@pytest.mark.parametrize("use_tz", [False, True], ids=["USE_TZ=False", "USE_TZ=True"])
def test_local_writes_during_syncs_reach_remote_with_the_next_sync(use_tz):
    with override_settings(USE_TZ=use_tz):
        churn(5, 10)
        context = multiprocessing.get_context("spawn")
        done = context.Queue()
        writer = context.Process(
            target=stress_workers.churn_for, args=(settings_for_a_process(), 50, 2.0, done)
        )
        writer.start()
        runs = 0
        try:
            while writer.is_alive():
                try:
                    call_synchronize(batch_size=5)
                except SyncError as exc:  # SQLite: the writer held LOCAL's lock too long
                    assert "locked" in str(exc), exc
                runs += 1
        finally:
            writer.join(60)
        assert writer.exitcode == 0
        assert done.get(timeout=10) > 0 and runs > 1
        assert_settled()


def test_a_row_deleted_and_created_again_with_the_same_pk_and_unique_values_swapped():
    """The shapes of the brief in one interval, checked alone (quick to read when it fails)."""
    vet_a = Vet.objects.create(name="a", badge="x")
    vet_b = Vet.objects.create(name="b", badge="y")
    pet = Pet.objects.create(name="p", vet=vet_a)
    chip = Chip.objects.create(id=uuid.uuid4(), serial="s1", pet=pet)
    call_synchronize()
    with transaction.atomic():
        vet_a.badge = "~"
        vet_a.save()
        vet_b.badge = "x"
        vet_b.save()
        vet_a.badge = "y"
        vet_a.save()
    chip_id = chip.id
    chip.delete()
    pet.delete()
    pet = Pet.objects.create(name="p", vet=vet_b)
    Chip.objects.create(id=chip_id, serial="s1", pet=pet)
    vet_a.delete()
    assert_settled()


def test_an_object_deleted_on_local_while_a_batch_reads_it_does_not_break_the_sync():
    """The batch reads a chip, then (before it reads the chip's pet) another connection deletes
    the pet and, by CASCADE, the chip. The batch must read LOCAL as of one moment: either both
    (and the next sync deletes them) or neither, never "the pet exists neither on LOCAL nor on
    REMOTE"."""
    with DisableSynchroLog():
        pet = Pet.objects.create(name="unlogged")  # reached only through the chip's FK
    Chip.objects.create(serial="s", pet=pet)
    deleter = threading.Thread(
        target=lambda: (Pet.objects.filter(pk=pet.pk).delete(), connections.close_all())
    )

    def delete_the_pet_meanwhile(sender, instance, **kwargs):
        if not deleter.is_alive() and deleter.ident is None:
            deleter.start()
            deleter.join(0.5)  # with SQLite's locks the deletion waits for the batch to end

    post_init.connect(delete_the_pet_meanwhile, sender=Chip)
    try:
        call_synchronize()
    finally:
        post_init.disconnect(delete_the_pet_meanwhile, sender=Chip)
        deleter.join(30)
    assert not Pet.objects.exists()
    assert_settled()


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_a_pulled_object_waits_for_the_deletion_that_frees_its_unique_value(batch_size):
    """Found by the churn above. The first batch holds only ``x.save()`` and ``z.save()``; by then
    LOCAL has moved x's chip to n1 and deleted x, moved y's chip to a new pet named "x", deleted y
    and renamed z to "y". Deleting x's copy pulls its chip (and n1) in; z's write takes "y" from
    y's copy, whose deletion pulls y's chip in and with it the new pet "x". That pet must be
    created after x's copy is deleted: the replay had read that x's copy held "x" only after
    deleting it, and wrote both new pets in one INSERT before the deletion (UNIQUE failed)."""
    x = Pet.objects.create(name="x")
    y = Pet.objects.create(name="y")
    z = Pet.objects.create(name="z")
    chip_x = Chip.objects.create(serial="cx", pet=x)
    chip_y = Chip.objects.create(serial="cy", pet=y)
    call_synchronize()
    x.save()
    z.save()
    chip_x.pet = Pet.objects.create(name="n1")
    chip_x.save()
    x.delete()
    chip_y.pet = Pet.objects.create(name="x")
    chip_y.save()
    y.delete()
    z.name = "y"
    z.save()
    call_synchronize(batch_size=batch_size)
    assert_settled()
