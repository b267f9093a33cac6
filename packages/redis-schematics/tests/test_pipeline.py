"""Pipelines and transactions: many writes in one round trip, nothing written on error."""

from __future__ import annotations

import pytest
from schematics.exceptions import DataError

from redis_schematics import NotFound

from .conftest import ice_cream


def test_pipeline_writes_everything_when_the_block_ends(IceCream, r):
    with IceCream.pipeline() as p:
        for i in range(20):
            ice_cream(IceCream, str(i), "vanilla", i).set(pipeline=p)
        with pytest.raises(NotFound):  # queued, not sent yet
            IceCream.match_for_pk("0")
    assert len(IceCream.all()) == 20
    assert sorted(o.amount_kg for o in IceCream.filter(amount_kg__gte=18)) == [18, 19]


def test_pipeline_is_one_transaction_by_default(IceCream, r):
    r.config_resetstat()
    with IceCream.pipeline() as p:
        for i in range(3):
            ice_cream(IceCream, str(i), "vanilla", i).set(pipeline=p)
    assert r.info("commandstats")["cmdstat_exec"]["calls"] == 1


def test_failed_validation_inside_the_block_writes_nothing(IceCream, r):
    with pytest.raises(DataError), IceCream.pipeline() as p:
        ice_cream(IceCream, "good", "vanilla", 1).set(pipeline=p)
        bad = ice_cream(IceCream, "bad", "vanilla", 2)
        bad.amount_kg = "heavy"
        bad.set(pipeline=p)
    assert r.dbsize() == 0


def test_any_error_inside_the_block_writes_nothing(IceCream, r):
    with pytest.raises(RuntimeError), IceCream.pipeline() as p:
        ice_cream(IceCream, "a", "vanilla", 1).set(pipeline=p)
        raise RuntimeError("changed my mind")
    assert r.dbsize() == 0


def test_deletes_can_be_pipelined_with_sets(IceCream, r):
    old = ice_cream(IceCream, "old", "vanilla", 1)
    old.set()
    with IceCream.pipeline() as p:
        old.delete(pipeline=p)
        ice_cream(IceCream, "new", "mint", 2).set(pipeline=p)
    assert [o.id for o in IceCream.all()] == ["new"]


def test_a_bare_redis_py_pipeline_is_accepted(IceCream, r):
    pipe = r.pipeline()
    ice_cream(IceCream, "a", "vanilla", 1).set(pipeline=pipe)
    assert IceCream.all() == []
    pipe.execute()
    assert IceCream.match_for_pk("a").flavour == "vanilla"


def test_one_pipeline_serves_several_models(r):
    from .models import HashIceCream, IndexedIceCream, SimpleIceCream

    with SimpleIceCream.pipeline() as p:
        for model in (SimpleIceCream, HashIceCream, IndexedIceCream):
            ice_cream(model, "a", "vanilla", 1).set(pipeline=p)
    assert [len(m.all()) for m in (SimpleIceCream, HashIceCream, IndexedIceCream)] == [1, 1, 1]


def test_pipeline_results_are_kept(IceCream, r):
    with IceCream.pipeline() as p:
        ice_cream(IceCream, "a", "vanilla", 1).set(pipeline=p)
    assert p.results
