"""django-synchro 0.7 behaviour a project relies on when it switches (issue 15, first part)."""

from __future__ import annotations

import importlib
import io
import warnings

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from synchro import DisableSynchroLog, NaturalManager
from synchro.models import ChangeLog
from tests.helpers import names, sync
from tests.testapp.models import (
    Author,
    Course,
    Enrollment,
    Gadget,
    Ledger,
    Loud,
    Part,
    Person,
    Room,
    Tag,
    Widget,
)

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


# -- NaturalManager declared the 0.7 way


def test_class_attribute_natural_manager_with_an_extra_base():
    gadget = Gadget.objects.create(name="g")
    assert isinstance(Gadget.objects, NaturalManager) and isinstance(Gadget.objects, Loud)
    assert Gadget.objects.shout() == "LOUD"
    assert Gadget.objects.get_by_natural_key("g") == gadget
    assert type(Gadget.objects)().fields == ("name",)  # instantiable without arguments


def test_class_attribute_natural_manager_finds_remote_copies_deletes_and_references():
    remote = Gadget.objects.using("remote").create(name="g", note="remote")
    gadget = Gadget.objects.create(name="g", note="local")
    Part.objects.create(name="p", gadget=gadget)
    assert sync().added == 1  # the part; the gadget was found by its natural key
    assert list(Gadget.objects.using("remote").values_list("pk", "note")) == [(remote.pk, "local")]
    assert Part.objects.using("remote").get().gadget_id == remote.pk
    Part.objects.all().delete()
    with DisableSynchroLog():
        Gadget.objects.using("remote").create(name="h")
        doomed = Gadget.objects.create(name="h")
    from synchro import reset_synchro

    reset_synchro()  # no reference: only the natural key saved with the deletion finds it
    doomed.delete()
    assert sync().deleted == 1
    assert names(Gadget) == ["g"]


def test_call_form_natural_manager_with_an_extra_base():
    assert isinstance(Widget.objects, NaturalManager) and Widget.objects.shout() == "LOUD"
    remote = Widget.objects.using("remote").create(name="w")
    widget = Widget.objects.create(name="w", note="local")
    Part.objects.create(name="p", gadget=Gadget.objects.create(name="g"), widget=widget)
    sync()
    assert Widget.objects.using("remote").get().note == "local"
    assert Part.objects.using("remote").get().widget_id == remote.pk


def test_the_class_attribute_form_needs_fields():
    class NoFields(NaturalManager, Loud):
        pass

    with pytest.raises(TypeError, match="natural key"):
        NoFields()


# -- synchro.settings as in 0.7


def test_settings_module_exposes_remote_and_the_resolved_models():
    import synchro.settings

    assert synchro.settings.REMOTE == "remote"
    assert Author in synchro.settings.MODELS and Tag in synchro.settings.MODELS
    assert ChangeLog not in synchro.settings.MODELS
    with override_settings(SYNCHRO_MODELS=[("testapp", "Author")], SYNCHRO_REMOTE=None):
        assert list(synchro.settings.MODELS) == [Author]
        assert synchro.settings.REMOTE is None


def test_invalid_remote_raises_improperly_configured_when_the_settings_load():
    import synchro.settings

    with override_settings(SYNCHRO_REMOTE="nowhere"):
        with pytest.raises(ImproperlyConfigured, match="nowhere"):
            importlib.reload(synchro.settings)
        with pytest.raises(ImproperlyConfigured, match="nowhere"):
            sync()
    importlib.reload(synchro.settings)
    assert synchro.settings.REMOTE == "remote"
    Author.objects.create(name="a")  # the reloaded module still drives logging
    assert sync().added == 1


def test_missing_remote_warns_from_the_command_as_from_call_synchronize():
    from django.conf import settings

    Author.objects.create(name="a")
    with override_settings():
        del settings.SYNCHRO_REMOTE
        with pytest.warns(RuntimeWarning, match="SYNCHRO_REMOTE") as from_command:
            call_command("synchronize", stdout=io.StringIO())
        from synchro import call_synchronize

        with pytest.warns(RuntimeWarning, match="SYNCHRO_REMOTE") as from_function:
            call_synchronize()
    assert str(from_command[0].message) == str(from_function[0].message)
    assert names(Author) == []


def test_remote_none_is_an_error_for_the_command_and_for_call_synchronize():
    from django.core.management import CommandError

    from synchro import call_synchronize

    with override_settings(SYNCHRO_REMOTE=None):
        with pytest.raises(CommandError, match="SYNCHRO_REMOTE"):
            call_command("synchronize", stdout=io.StringIO())
        with warnings.catch_warnings(), pytest.raises(CommandError, match="SYNCHRO_REMOTE"):
            warnings.simplefilter("error")
            call_synchronize()


# -- FK targets outside SYNCHRO_MODELS


def test_explicit_through_rows_bring_their_unwatched_fk_targets_along():
    room = Room.objects.create(name="lab")
    course = Course.objects.create(name="chemistry")
    student = Person.objects.create(name="ann")
    Enrollment.objects.create(course=course, person=student, room=room, grade=3)
    sync()
    row = Enrollment.objects.using("remote").get()
    assert (row.course.name, row.person.name, row.room.name, row.grade) == ("chemistry", "ann", "lab", 3)
    # Saving the (unwatched) through row logs its owner, as 0.7 did.
    enrollment = Enrollment.objects.get()
    enrollment.grade = 5
    enrollment.save()
    sync()
    assert Enrollment.objects.using("remote").get().grade == 5
    assert Room.objects.using("remote").count() == 1
    enrollment.delete()
    sync()
    assert not Enrollment.objects.using("remote").exists()


# -- the admin template's 0.7 name


@pytest.fixture
def staff(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create(username="staff", is_staff=True))
    return client


def test_admin_view_renders_the_0_7_template_name_with_the_admin_look(staff):
    response = staff.get(reverse("synchro:synchro"))
    used = [t.name for t in response.templates]
    assert used[0] == "synchro.html" and "admin/base_site.html" in used
    content = response.content.decode()
    assert 'class="breadcrumbs"' in content and reverse("admin:index") in content


def test_a_project_override_of_synchro_html_is_used(staff, tmp_path):
    from django.conf import settings

    (tmp_path / "synchro.html").write_text(
        "0.7 override: last={{ last }} reset_allowed={{ reset_allowed }}"
        '<form method="post">{% csrf_token %}<input type="submit" name="synchro"></form>'
    )
    templates = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    Author.objects.create(name="a")
    with override_settings(TEMPLATES=templates):
        content = staff.get(reverse("synchro:synchro")).content.decode()
        assert content.startswith("0.7 override: last=None reset_allowed=True")
        staff.post(reverse("synchro:synchro"), {"synchro": "1"})  # 0.7's button name
    assert names(Author) == ["a"]


# -- an added object whose pk exists on REMOTE


def test_added_object_with_an_existing_pk_overwrites_it_whole_and_skip_fields_take_defaults():
    Ledger.objects.using("remote").create(code="L1", cash=77, visits=5)
    Ledger.objects.create(code="L1", cash=7, visits=42)
    sync()
    assert list(Ledger.objects.using("remote").values_list("code", "cash", "visits")) == [("L1", 7, 0)]
    # Changes of an object synchronized before keep the skipped field's REMOTE value.
    Ledger.objects.using("remote").filter(code="L1").update(visits=9)
    ledger = Ledger.objects.get()
    ledger.cash = 8
    ledger.save()
    sync()
    assert list(Ledger.objects.using("remote").values_list("cash", "visits")) == [(8, 9)]


def test_object_found_by_natural_key_keeps_remote_values_of_skipped_fields():
    Gadget.objects.using("remote").create(name="g", visits=5)
    Gadget.objects.create(name="g", note="local", visits=42)
    assert sync().changed == 1
    assert list(Gadget.objects.using("remote").values_list("note", "visits")) == [("local", 5)]
