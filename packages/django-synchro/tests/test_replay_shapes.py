"""The seven shapes of issue 20: after a first sync, one burst of ordinary ORM changes on LOCAL,
then one sync. REMOTE must then equal LOCAL, and a second sync must change nothing.

Each test runs on this session's database pairs (tests/replay_pairs.py): SQLite -> PostgreSQL in
the PostgreSQL session, PostgreSQL -> MariaDB in the MariaDB session, SQLite -> SQLite in the
SQLite session. Each failed before the order-faithful replay (synchro.replay).
"""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save
from django.test import override_settings
from django.utils import timezone

from synchro import DisableSynchroLog, SyncError, call_synchronize
from synchro.models import FailedChange
from tests.replay_check import assert_replayed, committed, pair_params, replay_databases, using_pair
from tests.replayapp.models import Chip, City, Club, Country, Pet, Vet

pytestmark = pytest.mark.django_db(databases=replay_databases())


@pytest.fixture
def pair(request):
    with using_pair(request.param) as pair:
        yield pair


def shape(which: int | str):
    """Parametrize over this session's pairs (``which``: the shape of issue 20 it tests)."""
    return pytest.mark.parametrize("pair", pair_params(), indirect=True)


@shape(1)
@committed
def test_shape_1_delete_and_recreate_with_the_same_natural_key(pair):
    L = pair.local
    old = Country.objects.using(L).create(code="t1", name="old")
    Club.objects.using(L).create(name="club").countries.add(old)
    assert_replayed(pair)

    Country.objects.using(L).get(code="t1").delete()
    Country.objects.using(L).create(code="t1", name="new")
    assert_replayed(pair)


@shape(2)
@committed
def test_shape_2_recreated_natural_key_linked_by_m2m(pair):
    L = pair.local
    club = Club.objects.using(L).create(name="club")
    club.countries.add(Country.objects.using(L).create(code="pl", name="old"))
    assert_replayed(pair)

    Country.objects.using(L).get(code="pl").delete()
    new = Country.objects.using(L).create(code="pl", name="new")
    club.countries.add(new)
    assert_replayed(pair)
    # The failure was permanent: a later burst must synchronize too.
    Country.objects.using(L).create(code="de")
    assert_replayed(pair)


@shape(2)
@committed
def test_shape_2_recreated_natural_key_linked_by_a_club_logged_earlier_beside_another_handover(pair):
    """Found by the state machine: each hand-over alone replays, together the run fails."""
    L = pair.local
    club = Club.objects.using(L).create(name="club")
    old = Country.objects.using(L).create(code="pl", name="old")
    club.countries.add(old)
    rex = Pet.objects.using(L).create(name="rex")
    assert_replayed(pair)

    club.countries.add(old)  # already linked: only logs the club, first in this burst
    old.delete()
    club.countries.add(Country.objects.using(L).create(code="pl", name="new"))
    rex.name = "max"
    rex.save()
    Pet.objects.using(L).create(name="rex")
    assert_replayed(pair)


@shape(2)
@committed
def test_shape_2_a_batch_refused_at_commit_is_not_taken_for_another_run(pair):
    """The checkpoint guard must not mistake its own failed batch for another synchronization.

    A REMOTE receiver leaves a dangling foreign key in the first batch only, so that batch is
    refused at COMMIT (SQLite, PostgreSQL; MariaDB refuses the INSERT itself); written again
    object by object it succeeds. The run may succeed or name the real cause; it must not report
    another synchronization, and the next run must bring REMOTE level with LOCAL.
    """
    L, R = pair.local, pair.remote
    Country.objects.using(L).create(code="a")
    Country.objects.using(L).create(code="b")
    spoiled = []

    def dangling_city(sender, instance, using, **kwargs):
        if using == R and not spoiled:
            spoiled.append(instance.code)
            with DisableSynchroLog():
                City.objects.using(R).create(name="ghost", zone="0", country_id=10**6)

    post_save.connect(dangling_city, sender=Country, dispatch_uid="issue20.dangling_city")
    try:
        call_synchronize()
    except SyncError as exc:
        assert "another synchronization" not in str(exc), exc
    finally:
        post_save.disconnect(sender=Country, dispatch_uid="issue20.dangling_city")
    assert spoiled
    assert_replayed(pair)


@shape(2)
@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
@committed
def test_shape_2_natural_key_handed_over_while_the_referrers_move_across_batches(pair, batch_size):
    """Found by the state machine with small batches: a batch writes objects as they are now, so
    a chip moved away from a pet (CASCADE) before the pet's deletion must point at the pet that
    later takes the deleted one's natural key, before that pet can be created with it."""
    L = pair.local
    p2 = Pet.objects.using(L).create(name="p2")
    old = Pet.objects.using(L).create(name="p4")
    s1 = Chip.objects.using(L).create(serial="s1", pet=p2)
    s2 = Chip.objects.using(L).create(serial="s2", pet=old)
    assert_replayed(pair)

    Chip.objects.using(L).create(serial="s3", pet=p2)
    s2.pet = p2
    s2.save()
    old.delete()
    new = Pet.objects.using(L).create(name="p4")
    for chip in (s1, s2, *Chip.objects.using(L).filter(serial="s3")):
        chip.pet = new
        chip.save()
    p2.delete()
    with override_settings(SYNCHRO_BATCH_SIZE=batch_size):
        assert_replayed(pair)


@shape(3)
@pytest.mark.parametrize("move", ["edit_then_unset", "to_a_new_vet", "edit_then_delete_the_pet"])
@committed
def test_shape_3_protected_target_deleted_after_its_referrer_moved(pair, move):
    """The last variant (the referrer deleted instead of moved) was found by the state machine."""
    L = pair.local
    old_vet = Vet.objects.using(L).create(name="old", badge="b1")
    pet = Pet.objects.using(L).create(name="rex", vet=old_vet)
    assert_replayed(pair)

    if move.startswith("edit_then"):
        old_vet.since = timezone.now()
        old_vet.save()
    if move == "edit_then_delete_the_pet":
        pet.delete()
    else:
        pet.vet = None if move == "edit_then_unset" else Vet.objects.using(L).create(name="new", badge="b2")
        pet.save()
    old_vet.delete()
    assert_replayed(pair)
    Vet.objects.using(L).create(name="later", badge="b3")
    assert_replayed(pair)


@shape(3)
@committed
def test_shape_3_unset_then_delete_in_a_burst_of_its_own(pair):
    """(Passed before only because a failed batch was retried object by object, committing each.)"""
    L = pair.local
    old_vet = Vet.objects.using(L).create(name="old", badge="b1")
    pet = Pet.objects.using(L).create(name="rex", vet=old_vet)
    assert_replayed(pair)

    pet.vet = None
    pet.save()
    old_vet.delete()
    assert_replayed(pair)


@shape(4)
@pytest.mark.parametrize("field", ["badge", "name"], ids=["unique_field", "natural_key"])
@committed
def test_shape_4_unique_values_swapped_through_a_temporary_one(pair, field):
    L = pair.local
    x = Vet.objects.using(L).create(name="a", badge="a")
    y = Vet.objects.using(L).create(name="b", badge="b")
    Pet.objects.using(L).create(name="rex", vet=x)
    assert_replayed(pair)

    setattr(x, field, "tmp")
    x.save()
    setattr(y, field, "a")
    y.save()
    setattr(x, field, "b")
    x.save()
    assert_replayed(pair)
    Vet.objects.using(L).create(name="later", badge="later")
    assert_replayed(pair)


@shape(5)
@committed
def test_shape_5_natural_key_given_up_and_taken_in_one_burst(pair):
    L = pair.local
    x = Country.objects.using(L).create(code="pl", name="x")
    City.objects.using(L).create(name="Warsaw", zone="1", country=x)
    Club.objects.using(L).create(name="club").countries.add(x)
    assert_replayed(pair)

    x.code = "xx"
    x.save()
    newcomer = Country.objects.using(L).create(code="pl", name="newcomer")
    City.objects.using(L).create(name="Gdansk", zone="1", country=newcomer)
    assert_replayed(pair)


@shape(6)
@committed
def test_shape_6_fk_moved_off_an_object_then_deleted_with_cascade(pair):
    L = pair.local
    a1 = Country.objects.using(L).create(code="a1")
    a2 = Country.objects.using(L).create(code="a2")
    city = City.objects.using(L).create(name="Lviv", zone="1", country=a1)
    assert_replayed(pair)

    city.country = a2
    city.save()
    a1.delete()
    assert_replayed(pair)


@shape(6)
@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
@committed
def test_shape_6_city_moves_to_the_country_that_takes_the_deleted_ones_code(pair, batch_size):
    """A batch that ends before the city's last move still writes the city as it is now: on the
    country created with the deleted one's code, which cannot exist before that deletion, which
    cannot come before the city left (CASCADE). The new country is created with a temporary
    code first, as LOCAL created it once the code was free."""
    L = pair.local
    a = Country.objects.using(L).create(code="a")
    city = City.objects.using(L).create(name="x", zone="1", country=a)
    assert_replayed(pair)

    city.country = Country.objects.using(L).create(code="b")
    city.save()
    a.delete()
    city.country = Country.objects.using(L).create(code="a", name="second")
    city.save()
    with override_settings(SYNCHRO_BATCH_SIZE=batch_size):
        assert_replayed(pair)


@shape("an object deleted and created again with the same (UUID) primary key")
@committed
def test_object_deleted_and_created_again_with_the_same_pk(pair):
    L = pair.local
    pet = Pet.objects.using(L).create(name="rex")
    chip = Chip.objects.using(L).create(serial="s1", pet=pet, data={"v": 1})
    assert_replayed(pair)

    chip_id = chip.pk
    chip.delete()
    Chip.objects.using(L).create(id=chip_id, serial="s1", pet=pet, data={"v": 2})
    remote = assert_replayed(pair)
    assert remote["chip"][chip_id]["data"] == {"v": 2}


@shape(7)
@committed
def test_shape_7_add_with_through_defaults_on_a_watched_through_model(pair):
    L = pair.local
    club = Club.objects.using(L).create(name="club")
    owner = Pet.objects.using(L).create(name="owner")
    assert_replayed(pair)

    club.members.add(owner, through_defaults={"role": "chair"})
    assert_replayed(pair)
    club.members.remove(owner)
    assert_replayed(pair)


@shape("a unique value held by a REMOTE row LOCAL never synced")
@committed
def test_unreplayable_unique_value_stops_the_batch_naming_both_objects(pair):
    """A unique value on REMOTE held by a row LOCAL never synced cannot be replayed: the run stops
    before writing anything of that batch, names both objects and the field; after the repair
    (here: the REMOTE row gives the value up) the next run completes."""
    L, R = pair.local, pair.remote
    Country.objects.using(L).create(code="pl")
    local = Vet.objects.using(L).create(name="alice", badge="b9")
    with DisableSynchroLog():
        holder = Vet.objects.using(R).create(name="remote-only", badge="b9")
        while holder.pk == local.pk:  # so that naming an object by its pk is unambiguous
            holder.delete()
            holder = Vet.objects.using(R).create(name="remote-only", badge="b9")

    with pytest.raises(SyncError) as caught:
        call_synchronize()
    message = str(caught.value)
    assert "badge" in message and "b9" in message, message
    for obj in (local, holder):
        assert obj.name in message or repr(str(obj.pk)) in message, (obj.name, message)
    assert not Country.objects.using(R).exists(), "the batch was partly written"
    assert not Vet.objects.using(R).filter(name="alice").exists()

    with DisableSynchroLog():  # the repair: REMOTE's own row goes (LOCAL never had it)
        Vet.objects.using(R).filter(pk=holder.pk).delete()
    assert_replayed(pair)


@shape("a REMOTE row LOCAL never synced protects an object LOCAL deleted")
@committed
def test_unreplayable_protected_deletion_stops_the_batch_naming_both_objects(pair):
    L, R = pair.local, pair.remote
    vet = Vet.objects.using(L).create(name="old", badge="b1")
    assert_replayed(pair)
    with DisableSynchroLog():
        stray = Pet.objects.using(R).create(name="remote-only", vet=Vet.objects.using(R).get(name="old"))

    Country.objects.using(L).create(code="pl")
    vet.delete()
    with pytest.raises(SyncError) as caught:
        call_synchronize()
    message = str(caught.value)
    assert "replayapp.vet" in message and "remote-only" in message and "vet" in message, message
    assert "PROTECT" in message, message
    assert not Country.objects.using(R).exists(), "the batch was partly written"

    with DisableSynchroLog():  # the repair: the REMOTE-only pet lets the vet go
        Pet.objects.using(R).filter(pk=stray.pk).update(vet=None)
    call_synchronize()
    assert not Vet.objects.using(R).exists() and Country.objects.using(R).exists()


@shape("continue_on_error puts an unreplayable object aside and replays the rest")
@committed
def test_unreplayable_object_is_put_aside_with_continue_on_error(pair):
    L, R = pair.local, pair.remote
    x = Vet.objects.using(L).create(name="x", badge="a")
    y = Vet.objects.using(L).create(name="y", badge="b")
    assert_replayed(pair)
    with DisableSynchroLog():
        Vet.objects.using(R).create(name="remote-only", badge="b9")

    for obj, badge in ((x, "tmp"), (y, "a"), (x, "b")):  # a swap, replayed object by object
        obj.badge = badge
        obj.save()
    alice = Vet.objects.using(L).create(name="alice", badge="b9")
    summary = call_synchronize(continue_on_error=True)
    assert summary.failed == 1 and "b9" in summary.errors[0], summary.errors
    assert FailedChange.objects.using(L).get().object_id == str(alice.pk)
    assert dict(Vet.objects.using(R).values_list("name", "badge")) == {
        "x": "b",
        "y": "a",
        "remote-only": "b9",
    }
