from __future__ import annotations

import pytest
from django.db import models
from django.test.utils import isolate_apps

from synchro import NaturalManager
from tests.testapp.models import Event, Tag

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


class Loud(models.Manager):
    def shout(self):
        return "LOUD"


def test_natural_manager_builds_a_subclass_of_both():
    manager = NaturalManager("code", manager=Loud)
    assert isinstance(manager, NaturalManager) and isinstance(manager, Loud)
    assert manager.shout() == "LOUD"


def test_natural_manager_rejects_a_non_manager():
    from django.core.exceptions import ValidationError

    for expected in (TypeError, ValidationError):  # ValidationError: as django-synchro 0.7 raised
        with pytest.raises(expected, match="Manager subclass"):
            NaturalManager("code", manager=dict)
    for expected in (TypeError, AssertionError):  # AssertionError: as 0.7 raised
        with pytest.raises(expected, match="natural key fields"):
            NaturalManager()


def test_get_by_natural_key():
    import datetime

    event = Event.objects.create(code="a", day=datetime.date(2021, 5, 1))
    assert Event.objects.get_by_natural_key("a", datetime.date(2021, 5, 1)) == event
    with pytest.raises(Event.DoesNotExist):
        Event.objects.get_by_natural_key("b", datetime.date(2021, 5, 1))
    with pytest.raises(ValueError, match="2 fields"):
        Event.objects.get_by_natural_key("a")


def test_natural_key_model_gets_a_natural_manager():
    tag = Tag.objects.create(name="x")
    assert tag.natural_key() == ("x",)
    assert Tag.objects.get_by_natural_key("x") == tag
    assert Tag.objects.db_manager("remote").filter(name="x").count() == 0


def test_allow_many_returns_the_first():
    import datetime

    manager = NaturalManager("code", allow_many=True)
    manager.model = Event
    manager.name = "tmp"
    first = Event.objects.create(code="dup", day=datetime.date(2020, 1, 1))
    Event.objects.create(code="dup", day=datetime.date(2020, 1, 2))
    assert manager.get_by_natural_key("dup") == first
    strict = NaturalManager("code")
    strict.model = Event
    with pytest.raises(Event.MultipleObjectsReturned):
        strict.get_by_natural_key("dup")


@isolate_apps("tests.testapp")
def test_natural_key_model_extends_the_declared_manager():
    from synchro import NaturalKeyModel

    class Gadget(NaturalKeyModel):
        code = models.CharField(max_length=5)
        _natural_key = ("code",)
        _natural_manager_kwargs = {"allow_many": True}
        objects = Loud()

        class Meta:
            app_label = "testapp"

    assert isinstance(Gadget.objects, NaturalManager) and isinstance(Gadget.objects, Loud)
    assert Gadget.objects.shout() == "LOUD"
    assert Gadget.objects.fields == ("code",) and Gadget.objects.allow_many
    assert Gadget._default_manager.get_by_natural_key.__self__ is Gadget._default_manager
