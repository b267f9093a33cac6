"""Simple-layer classes whose key prefixes nest (``F`` and ``F:a``): ``all()``, ``filter()`` and
``delete_all()`` touch only the keys of their own class, the 0.3.1 layout stays readable, other
layers' keys are never touched, and nesting prefixes are warned about when a class is defined."""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from schematics import models, types

from redis_schematics import HashRedisModel, IndexedRedisModel, KeyPrefixWarning, SimpleRedisModel
from redis_schematics.simple import SimpleRedisMixin


@pytest.fixture(autouse=True)
def _forget_earlier_classes() -> Iterator[None]:
    """Classes of earlier tests must not count as live neighbours of this test's classes."""
    gc.collect()
    yield
    gc.collect()


def define(base: type, prefix: str, name: str = "Thing", **attrs: Any) -> Any:
    namespace = {"__prefix__": prefix, "id": types.StringType(), "size": types.IntType(), **attrs}
    return type(name, (base,), namespace)


@pytest.fixture
def nested(r: Any) -> tuple[Any, Any, Any]:
    """Outer (prefix F), Inner (prefix F:a), both simple, and a hash class whose hash is F:h."""
    outer = define(SimpleRedisModel, "F", "Outer")
    with pytest.warns(
        KeyPrefixWarning, match=r"Inner's keys 'F:a:\*' nest inside the key space 'F:\*' of Outer"
    ):
        inner = define(SimpleRedisModel, "F:a", "Inner")
    with pytest.warns(KeyPrefixWarning, match=r"Bag.*'F:h'.*Outer"):

        class Bag(HashRedisModel):
            __set_key__ = "F:h"
            id = types.StringType()

    outer({"id": "1", "size": 1}).set()
    outer({"id": "2", "size": 2}).set()
    inner({"id": "1", "size": 10}).set()
    inner({"id": "3", "size": 30}).set()
    Bag({"id": "1"}).set()
    return outer, inner, Bag


def test_all_and_filter_read_only_their_own_class(nested):
    outer, inner, _ = nested
    assert sorted(o.id for o in outer.all()) == ["1", "2"]
    assert sorted(o.id for o in inner.all()) == ["1", "3"]
    assert [o.id for o in outer.filter(size__gte=2)] == ["2"]
    assert [o.size for o in outer.filter(id="1")] == [1]


def test_delete_all_deletes_only_its_own_class(nested, r):
    outer, inner, bag = nested
    assert outer.delete_all() == 2
    assert sorted(o.id for o in inner.all()) == ["1", "3"]
    assert [o.id for o in bag.all()] == ["1"]
    assert r.type("F:h") == b"hash"
    assert inner.delete_all() == 2
    assert sorted(r.keys("*")) == [b"F:h"]


def test_a_simple_class_never_deletes_another_layers_hash(r):
    with pytest.warns(KeyPrefixWarning):

        class G(SimpleRedisModel):
            id = types.StringType()

        class Tagged(HashRedisModel):
            __set_key__ = "G:tags"
            id = types.StringType()

    Tagged({"id": "t"}).set()
    G({"id": "x"}).set()
    assert G.delete_all() == 1
    assert r.hkeys("G:tags") == [b"Tagged:t"]


def test_keys_written_by_0_3_1_stay_readable(r):
    """0.3.1 wrote ``json.dumps(to_primitive())`` with the pk in it, at ``<prefix>:<pk>``."""
    outer = define(SimpleRedisModel, "F", "Outer")
    with pytest.warns(KeyPrefixWarning):
        inner = define(SimpleRedisModel, "F:a", "Inner")
    r.set("F:1", json.dumps({"pk": "1", "id": "1", "size": 1}))
    r.set("F:a:1", json.dumps({"pk": "1", "id": "1", "size": 10}))
    r.set("F:a:b", json.dumps({"pk": "a:b", "id": "a:b", "size": 5}))  # an Outer whose pk holds ':'
    assert sorted(o.pk for o in outer.all()) == ["1", "a:b"]
    assert [o.pk for o in inner.all()] == ["1"]
    assert outer.match_for_pk("a:b").size == 5
    assert inner.match_for_pk("1").size == 10


def test_a_record_without_identity_belongs_to_the_prefix_that_matched(r):
    outer = define(SimpleRedisModel, "F", "Outer")
    r.set("F:lonely", json.dumps({"size": 7}))
    assert [(o.pk, o.size) for o in outer.all()] == [("lonely", 7)]


def test_models_without_pk_field_compare_their_identity_with_the_key(r):
    class Seat(models.Model, SimpleRedisMixin):
        __prefix__ = "S"
        __unique_together__ = ("row", "number")
        row = types.StringType(required=True)
        number = types.IntType(required=True)

    Seat({"row": "a", "number": 1}).set()
    r.set("S:b.2", json.dumps({"row": "b", "number": 2}))
    r.set("S:x:c.3", json.dumps({"row": "c", "number": 3}))  # not where a Seat c.3 lives
    assert sorted((s.row, s.number) for s in Seat.all()) == [("a", 1), ("b", 2)]
    assert Seat.delete_all() == 2
    assert r.keys("*") == [b"S:x:c.3"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((SimpleRedisModel, "P"), (SimpleRedisModel, "P:q")),
        ((SimpleRedisModel, "P:q"), (SimpleRedisModel, "P")),
        ((SimpleRedisModel, "P"), (HashRedisModel, "P:q")),
        ((HashRedisModel, "P:q"), (SimpleRedisModel, "P")),
        ((SimpleRedisModel, "{P}"), (IndexedRedisModel, "P")),
    ],
    ids=["simple-in-simple", "simple-around-simple", "hash-in-simple", "simple-around-hash", "indexed"],
)
def test_nesting_prefixes_are_warned_about_at_class_definition(r, first, second):
    keep = define(*first, name="First")
    with pytest.warns(KeyPrefixWarning, match="do not nest"):
        define(*second, name="Second")
    assert keep.__name__ == "First"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((SimpleRedisModel, "P"), (SimpleRedisModel, "P")),  # the same key space (a redefinition)
        ((SimpleRedisModel, "P"), (SimpleRedisModel, "Pq")),
        ((SimpleRedisModel, "P"), (HashRedisModel, "P")),  # the hash P is not under P:*
        ((HashRedisModel, "P"), (HashRedisModel, "P:q")),  # hashes are single keys
        ((SimpleRedisModel, "P"), (IndexedRedisModel, "P")),
    ],
    ids=["same", "sibling", "hash-named-like-prefix", "hash-in-hash", "indexed"],
)
def test_prefixes_that_do_not_nest_are_not_warned_about(r, first, second):
    keep = define(*first, name="First")
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeyPrefixWarning)
        define(*second, name="Second")
    assert keep.__name__ == "First"
