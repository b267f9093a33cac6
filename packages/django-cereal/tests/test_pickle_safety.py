"""django-cereal-pickle unpickles only allow-listed globals; nesting as deep as kombu's pickle allows."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import os
import pickle
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


def text(value: str) -> bytes:
    """Pickle opcode SHORT_BINUNICODE for a short string."""
    data = value.encode()
    return b"\x8c" + bytes([len(data)]) + data


def deep_pickle(bottom: bytes, levels: int, task_body: bool = True) -> bytes:
    """A pickle of ``[[[... bottom ...]]]`` (``levels`` lists), written opcode by opcode.

    Python's own pickler needs one C stack frame per level (Python 3.12 gives up near 1,000), so
    the payload a producer with a deeper stack could send is written here without recursion:
    ``levels`` empty lists, the bottom value, then one APPEND per level. As a task body it is
    ``((nested,), {}, embed)``, else ``{"deep": nested}``.
    """
    nested = b"]" * levels + bottom + b"a" * levels
    if task_body:
        embed = b"}(" + b"".join(text(key) + b"N" for key in EMBED) + b"u"
        body = b"((" + nested + b"t}" + embed + b"t"
    else:
        body = b"}(" + text("deep") + nested + b"u"
    return b"\x80\x04" + body + b"."


def book_pid(book) -> bytes:
    """BINPERSID of django-cereal-pickle's persistent id ``("testapp.Book", pk)``."""
    return b"(" + text("testapp.Book") + b"J" + book.pk.to_bytes(4, "little", signed=True) + b"tQ"


def bottom_of(value, levels):
    for _ in range(levels):
        (value,) = value
    return value


@pytest.mark.django_db
def test_deeply_nested_body_decodes_like_kombus_pickle():
    plain = deep_pickle(text("x"), 1000)
    content_type = "application/x-python-serialize"
    decoded = serialization.loads(plain, content_type, "binary", accept={content_type})
    assert bottom_of(decoded[0][0], 1000) == "x"  # kombu's own pickle decoder copes
    assert bottom_of(cereal_pickle.loads(plain)[0][0], 1000) == "x"

    book = Book.objects.create(title="at the bottom")
    args, _, _ = cereal_pickle.loads(deep_pickle(book_pid(book), 1000))
    (loaded,) = list(args)
    assert bottom_of(loaded, 1000) == book
    # a payload that is not a task message is loaded at once
    deep = cereal_pickle.loads(deep_pickle(book_pid(book), 1000, task_body=False))["deep"]
    assert bottom_of(deep, 1000).title == "at the bottom"


def test_deeply_nested_task_argument_through_the_worker(held_worker, send_raw):
    book = Book.objects.create(title="before")
    with held_worker():
        result = send_raw("cereal.depth", PICKLE, deep_pickle(book_pid(book), 1000))
        Book.objects.filter(pk=book.pk).update(title="after")
    assert result.get(timeout=TIMEOUT) == [1000, "after"]
