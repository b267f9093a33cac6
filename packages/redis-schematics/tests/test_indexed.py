"""The indexed layer: its layout, index upkeep on change/delete/expiry, and filters that never scan."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from schematics.exceptions import DataError

from shared_testing.servers import wait_until

from .conftest import ice_cream
from .models import IndexedIceCream, StrictIndexed, VolatileIndexed


def members(r, key):
    return sorted(m.decode() for m in r.smembers(key))


def zmembers(r, key):
    return [(m.decode(), s) for m, s in r.zrange(key, 0, -1, withscores=True)]


def index_keys(r):
    return sorted(k.decode() for k in r.scan_iter(match="{VolatileIndexed}:*") if b":obj:" not in k)


def test_one_hash_per_object_with_one_field_per_attribute(r):
    ice_cream(IndexedIceCream, "a", "vanilla", 3).set()
    stored = r.hgetall("{IndexedIceCream}:obj:a")
    assert json.loads(stored[b"flavour"]) == "vanilla"
    assert json.loads(stored[b"amount_kg"]) == 3
    assert json.loads(stored[b"toppings"]) == [{"name": "nuts"}]
    assert json.loads(stored[b"best_before"]) == "2026-01-04T00:00:00.000000"


def test_set_per_value_and_sorted_set_per_range_field(r):
    ice_cream(IndexedIceCream, "a", "vanilla", 3).set()
    ice_cream(IndexedIceCream, "b", "vanilla", 5).set()
    assert members(r, '{IndexedIceCream}:eq:flavour:"vanilla"') == ["a", "b"]
    assert members(r, "{IndexedIceCream}:eq:vegan:false") == ["a", "b"]
    assert zmembers(r, "{IndexedIceCream}:range:amount_kg") == [("a", 3.0), ("b", 5.0)]
    assert zmembers(r, "{IndexedIceCream}:range:made_on") == [
        ("a", float(dt.date(2025, 12, 4).toordinal())),
        ("b", float(dt.date(2025, 12, 6).toordinal())),
    ]


def test_changing_an_indexed_value_moves_the_entry_and_leaves_no_orphan(r):
    obj = ice_cream(IndexedIceCream, "a", "vanilla", 3)
    obj.set()
    obj.flavour = "mint"
    obj.amount_kg = 30
    obj.set()
    assert r.exists('{IndexedIceCream}:eq:flavour:"vanilla"') == 0
    assert members(r, '{IndexedIceCream}:eq:flavour:"mint"') == ["a"]
    assert zmembers(r, "{IndexedIceCream}:range:amount_kg") == [("a", 30.0)]
    assert IndexedIceCream.filter(flavour="vanilla") == []
    assert IndexedIceCream.filter(amount_kg__lte=3) == []
    assert [o.id for o in IndexedIceCream.filter(amount_kg__gte=30, flavour="mint")] == ["a"]


def test_value_becoming_none_leaves_the_range_index(r):
    obj = ice_cream(IndexedIceCream, "a", "vanilla", 3)
    obj.set()
    obj.amount_kg = None
    obj.set()
    assert r.exists("{IndexedIceCream}:range:amount_kg") == 0
    assert [o.id for o in IndexedIceCream.filter(amount_kg=None)] == ["a"]


def test_delete_and_delete_all_remove_every_index_entry(r):
    for i in range(4):
        ice_cream(IndexedIceCream, str(i), "vanilla", i).set()
    IndexedIceCream.match_for_pk("0").delete()
    assert "0" not in members(r, '{IndexedIceCream}:eq:flavour:"vanilla"')
    assert IndexedIceCream.delete_filter(amount_kg__gte=2) == 2
    assert members(r, '{IndexedIceCream}:eq:flavour:"vanilla"') == ["1"]
    assert IndexedIceCream.delete_all() == 1
    assert r.dbsize() == 0


def test_failed_validation_leaves_object_and_indexes_untouched(r):
    obj = ice_cream(IndexedIceCream, "a", "vanilla", 3)
    obj.set()
    before = {k: r.dump(k) for k in r.scan_iter()}
    obj.flavour = "mint"
    obj.amount_kg = "many"
    with pytest.raises(DataError):
        obj.set()
    assert {k: r.dump(k) for k in r.scan_iter()} == before


def _command_calls(client, command):
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_indexed_filters_never_scan_and_read_only_matching_objects(r):
    for i in range(200):
        ice_cream(IndexedIceCream, str(i), "vanilla" if i % 2 else "mint", i).set()
    r.config_resetstat()
    found = IndexedIceCream.filter(amount_kg__gte=195)
    assert sorted(o.amount_kg for o in found) == [195, 196, 197, 198, 199]
    assert sorted(o.id for o in IndexedIceCream.filter(flavour="mint", amount_kg__lt=6)) == ["0", "2", "4"]
    stats = r.info("commandstats")
    assert _command_calls(r, "scan") == 0
    assert _command_calls(r, "keys") == 0
    # 5 + 4 objects read (index bounds are inclusive; 6 is dropped by the exact check), not 200
    assert stats["cmdstat_hgetall"]["calls"] == 9


def test_filter_combines_index_with_non_indexed_conditions(r):
    ice_cream(IndexedIceCream, "a", "vanilla", 3, toppings=[{"name": "nuts"}]).set()
    ice_cream(IndexedIceCream, "b", "vanilla", 4, toppings=[]).set()
    assert [o.id for o in IndexedIceCream.filter(flavour="vanilla", id__not="b")] == ["a"]


def test_datetime_and_decimal_range_boundaries_are_exact(r):
    ice_cream(IndexedIceCream, "a", "vanilla", 3).set()  # best_before 2026-01-04, price 5.50
    assert [o.id for o in IndexedIceCream.filter(best_before__gte=dt.datetime(2026, 1, 4))] == ["a"]
    assert IndexedIceCream.filter(best_before__gt=dt.datetime(2026, 1, 4)) == []
    assert [o.id for o in IndexedIceCream.filter(price__lte="5.50")] == ["a"]
    assert IndexedIceCream.filter(price__lt="5.50") == []


def test_strict_indexed_filter_on_index_runs(r):
    StrictIndexed({"id": "a", "flavour": "x"}).set()
    assert StrictIndexed.match(flavour="x").id == "a"


def test_expired_objects_are_never_returned_and_their_entries_are_swept(r):
    VolatileIndexed({"id": "a", "colour": "red", "size": 1}).set()
    VolatileIndexed({"id": "b", "colour": "red", "size": 2}).set()
    assert 3590_000 < r.pttl("{VolatileIndexed}:obj:a") <= 3600_000
    r.pexpire("{VolatileIndexed}:obj:a", 1)  # let "a" expire now, as if its hour had passed
    wait_until(lambda: not r.exists("{VolatileIndexed}:obj:a"), timeout=10, what="a to expire")
    assert [o.id for o in VolatileIndexed.filter(colour="red")] == ["b"]
    assert members(r, '{VolatileIndexed}:eq:colour:"red"') == ["b"]
    assert zmembers(r, "{VolatileIndexed}:range:size") == [("b", 2.0)]
    assert json.loads(r.hget("{VolatileIndexed}:entries", "b"))  # b's entries are kept


def test_sweep_cleans_expired_entries_no_query_touched(r):
    VolatileIndexed({"id": "a", "colour": "red", "size": 1}).set()
    VolatileIndexed({"id": "b", "colour": "blue", "size": 2}).set()
    # Make "a" due: expire its hash and its membership score now.
    r.zadd("{VolatileIndexed}:members", {"a": 0})
    r.delete("{VolatileIndexed}:obj:a")
    assert VolatileIndexed.sweep() == 1
    assert VolatileIndexed.sweep() == 0
    assert r.exists('{VolatileIndexed}:eq:colour:"red"') == 0
    assert index_keys(r) == [
        "{VolatileIndexed}:entries",
        '{VolatileIndexed}:eq:colour:"blue"',
        "{VolatileIndexed}:members",
        "{VolatileIndexed}:range:size",
    ]
    assert [o.id for o in VolatileIndexed.all()] == ["b"]


def test_objects_without_expiry_are_not_swept(r):
    ice_cream(IndexedIceCream, "a", "vanilla", 3).set()
    assert IndexedIceCream.sweep() == 0
    assert [o.id for o in IndexedIceCream.all()] == ["a"]


def test_pk_that_looks_like_an_internal_key_name_does_not_collide(r):
    for pk in ("members", "entries", "eq", "range"):
        ice_cream(IndexedIceCream, pk, "vanilla", 1).set()
    assert sorted(o.id for o in IndexedIceCream.filter(flavour="vanilla")) == [
        "entries",
        "eq",
        "members",
        "range",
    ]
    assert IndexedIceCream.delete_all() == 4


def test_concurrent_writers_never_leave_orphan_index_entries(r):
    import threading

    flavours = ["vanilla", "mint", "lemon", "cherry"]

    def writer(offset):
        for i in range(150):
            ice_cream(IndexedIceCream, "shared", flavours[(i + offset) % 4], (i * 7 + offset) % 50).set()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = IndexedIceCream.match_for_pk("shared")
    holding = [f for f in flavours if r.sismember(f'{{IndexedIceCream}}:eq:flavour:"{f}"', "shared")]
    assert holding == [final.flavour]
    assert r.zscore("{IndexedIceCream}:range:amount_kg", "shared") == final.amount_kg
    assert [o.id for o in IndexedIceCream.filter(flavour=final.flavour)] == ["shared"]


def test_scripts_survive_a_flushed_script_cache(r):
    ice_cream(IndexedIceCream, "a", "vanilla", 1).set()
    r.script_flush()
    ice_cream(IndexedIceCream, "b", "vanilla", 2).set()
    r.script_flush()
    with IndexedIceCream.pipeline() as p:
        ice_cream(IndexedIceCream, "c", "vanilla", 3).set(pipeline=p)
    r.script_flush()
    with IndexedIceCream.pipeline(transaction=False) as p:
        ice_cream(IndexedIceCream, "d", "vanilla", 4).set(pipeline=p)
    r.script_flush()
    assert sorted(o.id for o in IndexedIceCream.filter(flavour="vanilla")) == ["a", "b", "c", "d"]


def test_async_pipeline_survives_a_flushed_script_cache(arun, r):
    async def scenario():
        r.script_flush()
        async with IndexedIceCream.apipeline() as p:
            await ice_cream(IndexedIceCream, "a", "mint", 1).aset(pipeline=p)
        r.script_flush()
        return [o.id for o in await IndexedIceCream.afilter(flavour="mint")]

    assert arun(scenario) == ["a"]
