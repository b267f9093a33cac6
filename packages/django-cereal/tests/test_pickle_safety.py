"""django-cereal-pickle unpickles only allow-listed globals; nesting as deep as kombu's pickle allows."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import os
import pickle
import sys
import uuid
import zoneinfo

import pytest
from django.test import override_settings
from kombu import serialization
from kombu.exceptions import DecodeError

from django_cereal import pickle as cereal_pickle
from django_cereal.exceptions import PickleRefused
from tests import tasks
from tests.testapp.models import Book

TIMEOUT = 60
EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
PICKLE = "application/x-django-cereal-pickle"
ACCEPT = serialization.prepare_accept_content(["django-cereal-pickle"])


class Gadget:
    """The classic pickle gadget: unpickling it runs a shell command."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_gadget_is_refused_when_decoding(tmp_path):
    marker = tmp_path / "pwned"
    content_type, encoding, data = serialization.dumps(
        {"x": Gadget(marker)}, serializer="django-cereal-pickle"
    )
    pickle.loads(pickle.dumps(Gadget(tmp_path / "plain")))  # plain pickle runs it: the gadget works
    assert (tmp_path / "plain").exists()
    with pytest.raises(DecodeError, match=r"refused to unpickle posix\.system"):
        serialization.loads(data, content_type, encoding, accept=ACCEPT)
    with pytest.raises(PickleRefused, match=r"refused to unpickle posix\.system"):
        cereal_pickle.loads(data)
    assert not marker.exists()


def test_gadget_in_a_task_fails_the_task_and_runs_nothing(worker, tmp_path):
    marker = tmp_path / "pwned"
    result = tasks.echo_pickle.delay(Gadget(marker))
    with pytest.raises(
        PickleRefused, match=r"refused to unpickle posix\.system.*DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS"
    ):
        result.get(timeout=TIMEOUT)
    assert result.state == "FAILURE"
    assert not marker.exists()


def test_getattr_reaches_only_allow_listed_names():
    class Reach:
        def __reduce__(self):
            return (getattr, (dict, "fromkeys"))

    with pytest.raises(PickleRefused, match=r"refused to unpickle builtins\.dict\.fromkeys"):
        cereal_pickle.loads(pickle.dumps([Reach()], 4))


def test_allowed_values_round_trip():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    values = [
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=berlin),
        datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc),
        datetime.date(2026, 1, 2),
        datetime.time(3, 4),
        datetime.timedelta(days=2),
        decimal.Decimal("1.10"),
        uuid.UUID(int=7),
        {1, 2},
        frozenset({3}),
        bytearray(b"x"),
        b"bytes",
        complex(1, 2),
        range(3),
        collections.OrderedDict(a=1),
        collections.defaultdict(list, b=[1]),
        collections.deque([1, 2]),
        collections.Counter("aab"),
        (1, "a", None, True, 1.5),
    ]
    assert cereal_pickle.loads(cereal_pickle.dumps(values)) == values


def test_project_can_allow_more_globals():
    data = cereal_pickle.dumps([fractions.Fraction(1, 3)])
    with pytest.raises(PickleRefused, match=r"fractions\.Fraction"):
        cereal_pickle.loads(data)
    with override_settings(DJANGO_CEREAL_PICKLE_ALLOWED_GLOBALS=["fractions.Fraction"]):
        assert cereal_pickle.loads(data) == [fractions.Fraction(1, 3)]


def test_refusals_are_logged(caplog):
    with pytest.raises(PickleRefused), caplog.at_level("WARNING", logger="django_cereal"):
        cereal_pickle.loads(pickle.dumps(fractions.Fraction(1, 3)))
    assert any("refused" in r.getMessage() and r.name.startswith("django_cereal.") for r in caplog.records)


def test_celery_signatures_in_a_pickle_message_still_work(worker):
    """Chains and callbacks travel as Celery signatures, which the allow-list includes."""
    from celery import chain

    book = Book.objects.create(title="chained")
    result = chain(tasks.bare_task.s(book), tasks.echo_pickle.s()).delay()
    assert result.get(timeout=TIMEOUT)["args"] == [{"value": "'chained'"}]


def nested(value, levels):
    for _ in range(levels):
        value = [value]
    return value


def deep_pickle(obj, dumps=cereal_pickle.dumps) -> bytes:
    """Encoding 1,000 levels needs more Python stack than the test runner leaves; decoding must not."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        return dumps(obj)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.django_db
def test_deeply_nested_body_decodes_like_kombus_pickle():
    book = Book.objects.create(title="at the bottom")
    plain = deep_pickle(((nested("x", 1000),), {}, EMBED), dumps=pickle.dumps)
    assert pickle.loads(plain)  # kombu's own pickle decoder copes
    args, _, _ = cereal_pickle.loads(deep_pickle(((nested(book, 1000),), {}, EMBED)))
    (loaded,) = list(args)
    for _ in range(1000):
        loaded = loaded[0]
    assert loaded == book and loaded.title == "at the bottom"
    # a non-task payload is loaded at once
    bottom = cereal_pickle.loads(deep_pickle({"deep": nested(book, 1000)}))["deep"]
    for _ in range(1000):
        bottom = bottom[0]
    assert bottom.title == "at the bottom"


def test_deeply_nested_task_argument_through_the_worker(held_worker):
    book = Book.objects.create(title="before")
    with held_worker():
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(10_000)
        try:
            result = tasks.depth.delay(nested(book, 1000))
        finally:
            sys.setrecursionlimit(limit)
        Book.objects.filter(pk=book.pk).update(title="after")
    assert result.get(timeout=TIMEOUT) == [1000, "after"]
