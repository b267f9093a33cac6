"""Regression tests: bugs of the original redis-schematics that must not come back."""

from __future__ import annotations

import pytest
import redis
from schematics import types

from redis_schematics import (
    ConfigurationError,
    HashRedisModel,
    NotFound,
    SimpleRedisModel,
    StrictPerformanceException,
)

from .conftest import ice_cream
from .models import (
    ICE_CREAMS,
    Anonymous,
    HashIceCream,
    IndexedIceCream,
    LegacyReservation,
    Reservation,
    SimpleIceCream,
    Strict,
    StrictIndexed,
)


def test_unique_together_makes_the_primary_key(r):
    Reservation({"day": "mon", "table": 4, "guest": "ann"}).set()
    Reservation({"day": "mon", "table": 5, "guest": "bob"}).set()
    assert sorted(r.keys("*")) == [b"Reservation:mon.4", b"Reservation:mon.5"]
    assert Reservation.match_for_pk("mon.4").guest == "ann"
    assert Reservation.match(day="mon", table=5).guest == "bob"


def test_unique_together_overwrites_the_same_identity(r):
    Reservation({"day": "mon", "table": 4, "guest": "ann"}).set()
    Reservation({"day": "mon", "table": 4, "guest": "cid"}).set()
    assert [o.guest for o in Reservation.all()] == ["cid"]


def test_old_unique_args_spelling_still_works(r):
    LegacyReservation({"day": "tue", "table": "9"}).set()
    assert r.hkeys("LegacyReservation") == [b"LegacyReservation:tue.9"]
    assert LegacyReservation.match_for_pk("tue.9").pk == "tue.9"


def test_unique_together_naming_an_unknown_field_is_a_clear_error(r):
    class Broken(SimpleRedisModel):
        __unique_together__ = ("nope",)

    with pytest.raises(ConfigurationError, match="nope"):
        Broken().set()


@pytest.mark.parametrize("model", [Anonymous, *ICE_CREAMS])
def test_objects_without_identity_get_distinct_real_unique_ids(r, model):
    first, second = model(), model()
    first.set()
    second.set()
    assert first.pk != second.pk
    assert len(first.pk) == 36 and first.pk.count("-") == 4  # str(uuid4()), not "<function uuid4>"
    assert len(model.all()) == 2
    assert model.match_for_pk(second.pk).pk == second.pk


def test_model_without_any_identity_field_gets_a_clear_error(r):
    from schematics import models

    from redis_schematics import SimpleRedisMixin

    class Nameless(models.Model, SimpleRedisMixin):
        note = types.StringType()

    with pytest.raises(ConfigurationError, match="needs a primary key"):
        Nameless({"note": "x"}).set()


def test_hash_set_without_expire_writes_and_does_not_raise(r):
    HashIceCream({"id": "a"}).set()
    assert HashIceCream.match_for_pk("a").id == "a"
    assert r.ttl("HashIceCream") == -1


def test_hash_delete_all_returns_the_number_of_objects_not_one(r):
    for i in range(3):
        HashIceCream({"id": str(i)}).set()
    assert HashIceCream.delete_all() == 3


@pytest.mark.parametrize("model", ICE_CREAMS)
def test_match_does_not_ignore_filters_once_it_has_a_pk(r, model):
    ice_cream(model, "a", "vanilla", 1).set()
    assert model.match(id="a", flavour="vanilla").id == "a"
    with pytest.raises(NotFound):
        model.match(id="a", flavour="chocolate")
    with pytest.raises(NotFound):
        model.match(id="a", amount_kg__gt=5)


def _command_calls(client, command: str) -> int:
    stats = client.info("commandstats")
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


def test_all_never_uses_keys(r):
    for i in range(30):
        SimpleIceCream({"id": str(i)}).set()
    r.config_resetstat()
    assert len(SimpleIceCream.all()) == 30
    assert SimpleIceCream.delete_all() == 30
    assert _command_calls(r, "keys") == 0
    assert _command_calls(r, "scan") >= 1


class _ExpiresDuringRead(redis.Redis):
    """A real client on the test server whose MGET first lets one listed key "expire" (deleted),
    reproducing a key that expires between SCAN and MGET."""

    victim: bytes = b""

    def mget(self, keys, *args):
        self.delete(self.victim)
        return super().mget(keys, *args)


def test_key_expiring_between_listing_and_reading_is_skipped(redis_server, bind):
    client = bind(_ExpiresDuringRead.from_url(redis_server.url))
    try:
        for i in range(3):
            SimpleIceCream({"id": str(i)}).set()
        client.victim = b"SimpleIceCream:1"
        assert sorted(o.id for o in SimpleIceCream.all()) == ["0", "2"]
        client.victim = b"SimpleIceCream:2"
        assert [o.id for o in SimpleIceCream.filter(id__in=["0", "2"])] == ["0"]
    finally:
        client.flushdb()
        client.close()


def test_pk_zero_or_falsy_id_is_a_real_identity(r):
    class Numbered(SimpleRedisModel):
        id = types.IntType()

    Numbered({"id": 0}).set()
    assert r.keys("*") == [b"Numbered:0"]
    assert Numbered.match(id=0).id == 0


def test_strict_performance_refuses_scans(r):
    Strict({"id": "a", "flavour": "x"}).set()
    assert Strict.match_for_pk("a").flavour == "x"
    with pytest.raises(StrictPerformanceException):
        Strict.filter(flavour="x")
    with pytest.raises(StrictPerformanceException):
        Strict.all()
    with pytest.raises(StrictPerformanceException):
        Strict.match(flavour="x")


def test_strict_performance_allows_indexed_filters_only(r):
    StrictIndexed({"id": "a", "flavour": "x", "colour": "red"}).set()
    assert [o.id for o in StrictIndexed.filter(flavour="x", colour="red")] == ["a"]
    with pytest.raises(StrictPerformanceException, match="colour"):
        StrictIndexed.filter(colour="red")


def test_hash_model_missing_client_is_a_clear_error(bind):
    class Unbound(HashRedisModel):
        pass

    with pytest.raises(ConfigurationError, match="__redis_client__ is not set"):
        Unbound().set()


def test_indexed_unknown_index_field_is_a_clear_error(r):
    class BadIndex(IndexedIceCream):
        __indexes__ = ("colour",)

    with pytest.raises(ConfigurationError, match="colour"):
        BadIndex({"id": "a"}).set()
