"""The fast paths behave like the generic ones: plain-model writes, direct pipeline queueing,
the indexed layer's one-string read and its compact SAVE arguments."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis
from schematics import types
from schematics.exceptions import ConversionError, DataError

from redis_schematics import HashRedisModel, IndexedRedisModel, NotFound, SimpleRedisModel


class NonEmptyString(types.StringType):
    """A type that redefines check_required: an empty string is refused, even when not required."""

    def check_required(self, value, context):
        if value == "":
            raise ConversionError("must not be empty")
        super().check_required(value, context)


def plain_fields():
    return {
        "id": types.StringType(),
        "name": NonEmptyString(),
        "code": types.StringType(required=True),
        "amount": types.IntType(min_value=0),
        "ratio": types.FloatType(),
        "big": types.LongType(),
        "at": types.DateTimeType(),
        "day": types.DateType(),
    }


class PlainSimple(SimpleRedisModel):
    locals().update(plain_fields())


class PlainHash(HashRedisModel):
    locals().update(plain_fields())


class PlainIndexed(IndexedRedisModel):
    __indexes__ = ("name", "amount", "at")
    locals().update(plain_fields())


PLAIN = [PlainSimple, PlainHash, PlainIndexed]


def sample(model, id="a", **extra):
    data = {
        "id": id,
        "name": 'Zoë "the" \x1f\n/tab\t',
        "amount": "7",  # converted by validation
        "ratio": 0.1 + 0.2,
        "big": 2**62 + 1,
        "at": dt.datetime(2026, 3, 4, 5, 6, 7, 123456),
        "day": dt.date(2026, 3, 4),
        "code": "c",
    }
    data.update(extra)
    return model(data)


@pytest.fixture(params=PLAIN, ids=lambda m: m.__name__)
def Plain(request, r):
    return request.param


@pytest.mark.parametrize("piped", [False, True], ids=["direct", "pipelined"])
def test_plain_model_round_trips_exactly(Plain, r, piped):
    obj = sample(Plain)
    if piped:
        with Plain.pipeline() as p:
            obj.set(pipeline=p)
    else:
        obj.set()
    assert obj.amount == 7  # validation converted the object's own value, like validate() does
    loaded = Plain.match_for_pk("a")
    assert loaded.to_primitive() == obj.to_primitive()
    assert loaded.ratio == 0.1 + 0.2 and loaded.big == 2**62 + 1
    assert loaded.name == 'Zoë "the" \x1f\n/tab\t'
    assert loaded.pk == "a"


def test_plain_simple_model_stores_exactly_its_to_primitive(r):
    obj = sample(PlainSimple)
    with PlainSimple.pipeline() as p:
        obj.set(pipeline=p)
    assert json.loads(r.get("PlainSimple:a")) == obj.to_primitive()


@pytest.mark.parametrize("piped", [False, True], ids=["direct", "pipelined"])
def test_plain_model_validation_errors_write_nothing(Plain, r, piped):
    bad = sample(Plain, amount=-1)
    with pytest.raises(DataError) as caught:
        if piped:
            with Plain.pipeline() as p:
                sample(Plain, id="good").set(pipeline=p)
                bad.set(pipeline=p)
        else:
            bad.set()
    assert "amount" in caught.value.errors
    assert r.dbsize() == 0


def test_redefined_check_required_is_honoured(Plain, r):
    obj = sample(Plain)
    obj.name = ""  # assignment does not check; set() must
    with pytest.raises(DataError) as caught:
        obj.set()
    assert "name" in caught.value.errors
    obj = sample(Plain)
    obj.code = None
    with pytest.raises(DataError) as caught:
        obj.set()
    assert list(caught.value.errors) == ["code"]
    assert r.dbsize() == 0
    sample(Plain, name=None).set()
    assert Plain.match_for_pk("a").name is None


def test_plain_model_without_id_gets_a_fresh_pk_each(Plain, r):
    first, second = sample(Plain, id=None), sample(Plain, id=None)
    with Plain.pipeline() as p:
        first.set(pipeline=p)
        second.set(pipeline=p)
    assert first.pk and second.pk and first.pk != second.pk
    assert Plain.match_for_pk(second.pk).name == second.name


def test_changes_after_a_write_are_validated_again(Plain, r):
    obj = sample(Plain)
    obj.set()
    obj.amount = "x"
    with pytest.raises(DataError):
        obj.set()
    assert Plain.match_for_pk("a").amount == 7


def test_indexed_read_of_a_missing_object(r):
    with pytest.raises(NotFound):
        PlainIndexed.match_for_pk("nope")


def test_indexed_layer_reads_hashes_written_field_by_field(r):
    """The stored layout is one JSON value per hash field, whoever wrote it."""
    r.hset("{PlainIndexed}:obj:h", mapping={"id": '"h"', "name": '"hand"', "big": str(2**62 + 3)})
    loaded = PlainIndexed.match_for_pk("h")
    assert (loaded.pk, loaded.name, loaded.big, loaded.amount) == ("h", "hand", 2**62 + 3, None)


def test_indexed_save_keeps_one_json_value_per_field(r):
    sample(PlainIndexed).set()
    stored = r.hgetall("{PlainIndexed}:obj:a")
    assert json.loads(stored[b"big"]) == 2**62 + 1
    assert json.loads(stored[b"name"]) == 'Zoë "the" \x1f\n/tab\t'
    assert b"ratio" in stored and len(stored) == 9  # pk + the eight fields


def test_indexed_resave_with_same_and_changed_values_keeps_index_exact(r):
    obj = sample(PlainIndexed)
    obj.set()
    obj.set()  # same indexed values: entries untouched, still exact
    assert [o.id for o in PlainIndexed.filter(name=obj.name)] == ["a"]
    obj.amount = 9
    obj.ratio = 1.5  # not indexed
    obj.set()
    assert PlainIndexed.filter(amount=7) == []
    assert [o.ratio for o in PlainIndexed.filter(amount__gte=8)] == [1.5]
    assert r.zscore("{PlainIndexed}:range:amount", "a") == 9


def test_indexed_custom_serializer_uses_field_pairs(r):
    class Shouting(IndexedRedisModel):
        __indexes__ = ("word",)
        id = types.StringType()
        word = types.StringType()

        @staticmethod
        def __serializer__(obj):
            return "!" + json.dumps(obj)

        @staticmethod
        def __deserializer__(dump):
            return json.loads(dump[1:])

    with Shouting.pipeline() as p:
        Shouting({"id": "a", "word": "hey\x1fyou"}).set(pipeline=p)
    assert r.hget("{Shouting}:obj:a", "word") == b'!"hey\\u001fyou"'
    assert Shouting.match_for_pk("a").word == "hey\x1fyou"
    assert [o.id for o in Shouting.filter(word="hey\x1fyou")] == ["a"]


def test_indexed_read_on_a_decode_responses_client(redis_server, bind):
    client = bind(redis.Redis.from_url(redis_server.url, decode_responses=True))
    try:
        sample(PlainIndexed).set()
        assert PlainIndexed.match_for_pk("a").big == 2**62 + 1
    finally:
        client.flushdb()
        client.close()


def test_fast_paths_on_a_cluster(cluster):
    for model in PLAIN:
        with model.pipeline() as p:
            sample(model).set(pipeline=p)
            sample(model, id="b", amount=3).set(pipeline=p)
        assert model.match_for_pk("a").big == 2**62 + 1
        assert sorted(o.id for o in model.filter(amount__gte=3)) == ["a", "b"]


def test_fast_paths_on_an_async_pipeline(arun, r):
    async def scenario():
        for model in PLAIN:
            async with model.apipeline() as p:
                await sample(model).aset(pipeline=p)
            assert model.match_for_pk("a").big == 2**62 + 1
            assert (await model.amatch_for_pk("a")).name == 'Zoë "the" \x1f\n/tab\t'

    arun(scenario)


def test_indexed_saves_in_a_pipeline_go_as_one_call_per_batch(r):
    objs = [sample(PlainIndexed, id=str(i), amount=i) for i in range(1200)]
    r.config_resetstat()
    with PlainIndexed.pipeline() as p:
        for obj in objs:
            obj.set(pipeline=p)
    assert p.results == [500, 500, 200]  # BATCH_LIMIT objects per script call
    stats = r.info("commandstats")  # the first call carries the script's source, the others its SHA
    assert (stats["cmdstat_eval"]["calls"], stats["cmdstat_evalsha"]["calls"]) == (1, 2)
    assert "cmdstat_script|exists" not in stats  # no SCRIPT EXISTS round trip before the pipeline
    assert len(PlainIndexed.all()) == 1200
    assert [o.id for o in PlainIndexed.filter(amount__gte=1198)] == ["1198", "1199"]


def test_batched_saves_keep_their_order_with_other_commands(r):
    kept, dropped = sample(PlainIndexed, id="kept"), sample(PlainIndexed, id="dropped")
    with PlainIndexed.pipeline() as p:
        dropped.set(pipeline=p)
        kept.set(pipeline=p)
        dropped.delete(pipeline=p)  # after the batched saves
        p.redis.set("marker", "1")  # a bare command between two batches
        kept.amount = 99
        kept.set(pipeline=p)  # a later batch: this write wins
        PlainSimple({"id": "s", "code": "c"}).set(pipeline=p)
    assert [o.id for o in PlainIndexed.all()] == ["kept"]
    assert PlainIndexed.match_for_pk("kept").amount == 99
    assert PlainIndexed.filter(amount=7) == [] and len(PlainIndexed.filter(amount=99)) == 1
    assert r.get("marker") == b"1" and PlainSimple.match_for_pk("s").code == "c"


def test_a_failed_block_drops_the_pending_batch(r):
    with pytest.raises(RuntimeError), PlainIndexed.pipeline() as p:
        sample(PlainIndexed).set(pipeline=p)
        raise RuntimeError("stop")
    assert r.dbsize() == 0


def test_indexed_read_with_an_unexpected_hash_field_falls_back_to_per_value_decoding(r):
    r.hset("{PlainIndexed}:obj:h", mapping={"id": '"h"', "name": '"hand"', 'odd"name': "1"})
    r.zadd("{PlainIndexed}:members", {"h": float("inf")})
    assert PlainIndexed.match_for_pk("h").name == "hand"
    assert [o.name for o in PlainIndexed.all()] == ["hand"]
