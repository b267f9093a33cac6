"""BaseRedisMixin as the base of a custom layer: the whole public API comes from five plans."""

from __future__ import annotations

import pytest
from schematics import models, types

from redis_schematics import BaseRedisMixin, NotFound
from redis_schematics.runner import Batch, Call


class SetIndexedMixin(BaseRedisMixin):
    """JSON string per object plus a set of every pk (``<prefix>:all``)."""

    @classmethod
    def _all_key(cls):
        return f"{cls._setting('__prefix__')}:all"

    @classmethod
    def _get_plan(cls, pk):
        raw = yield Call("get", (cls._key_for(pk),))
        return None if raw is None else cls._load(cls.__deserializer__(raw), pk)

    @classmethod
    def _all_plan(cls):
        members = yield Call("smembers", (cls._all_key(),))
        pks = sorted(pk.decode() for pk in members)
        if not pks:
            return []
        raws = yield Call("mget", ([cls._key_for(pk) for pk in pks],))
        return [cls._decode(raw) for raw in raws if raw is not None]

    def _save_plan(self, pk, primitive):
        cls = type(self)
        yield Batch(
            (
                Call("set", (cls._key_for(pk), self.__serializer__(primitive))),
                Call("sadd", (cls._all_key(), pk)),
            )
        )

    @classmethod
    def _delete_plan(cls, pks):
        replies = yield Batch(
            (Call("delete", tuple(cls._key_for(pk) for pk in pks)), Call("srem", (cls._all_key(), *pks)))
        )
        return replies[0] if replies else 0

    @classmethod
    def _delete_all_plan(cls):
        objects = yield from cls._all_plan()
        if not objects:
            return 0
        return (yield from cls._delete_plan([obj.pk for obj in objects]))


class Note(models.Model, SetIndexedMixin):
    __prefix__ = "note"

    pk = types.StringType()
    text = types.StringType()
    stars = types.IntType()


def test_custom_layer_gets_the_whole_api(r):
    for i in range(3):
        Note({"pk": str(i), "text": f"t{i}", "stars": i}).set()
    assert sorted(r.smembers("note:all")) == [b"0", b"1", b"2"]
    assert Note.match_for_pk("1").text == "t1"
    assert [n.pk for n in Note.filter(stars__gte=2)] == ["2"]
    assert Note.match(text="t0").stars == 0
    assert Note.delete_filter(stars=1) == 1
    with pytest.raises(NotFound):
        Note.match_for_pk("1")
    with Note.pipeline() as p:
        Note({"pk": "9", "text": "t9", "stars": 9}).set(pipeline=p)
    assert Note.delete_all() == 3
    assert r.dbsize() == 0
