from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db.models.signals import post_save
from django.test import override_settings
from django.urls import reverse

from synchro.models import ChangeLog
from tests.helpers import names
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db(databases=["default", "remote"])


@pytest.fixture
def staff(client):
    user = User.objects.create(username="staff", is_staff=True)
    client.force_login(user)
    return client


def test_view_is_staff_only(client):
    url = reverse("synchro:synchro")
    response = client.get(url)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(User.objects.create(username="plain"))
    assert client.get(url).status_code == 302
    assert client.post(url, {"synchronize": "1"}).status_code == 302
    assert names(Author) == []


def test_view_shows_state_and_buttons(staff):
    response = staff.get(reverse("synchro:synchro"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Never synchronized." in content
    assert 'name="synchronize"' in content and 'name="reset"' in content


def test_synchronize_button(staff):
    Author.objects.create(name="a")
    response = staff.post(reverse("synchro:synchro"), {"synchronize": "1"}, follow=True)
    assert names(Author) == ["a"]
    content = response.content.decode()
    assert "Synchronization finished" in content and "1 added" in content
    assert "Last synchronization:" in content


def test_errors_become_admin_messages(staff):
    Author.objects.create(name="a")

    def explode(sender, instance, using, **kwargs):
        if using == "remote":
            raise RuntimeError("remote is read-only")

    post_save.connect(explode, sender=Author)
    try:
        response = staff.post(reverse("synchro:synchro"), {"synchronize": "1"}, follow=True)
        assert "Synchronization failed" in response.content.decode()
        assert "remote is read-only" in response.content.decode()
        with override_settings(SYNCHRO_DEBUG=True), pytest.raises(Exception, match="remote is read-only"):
            staff.post(reverse("synchro:synchro"), {"synchronize": "1"})
    finally:
        post_save.disconnect(explode, sender=Author)


def test_reset_button(staff):
    Author.objects.create(name="a")
    response = staff.post(reverse("synchro:synchro"), {"reset": "1"}, follow=True)
    assert "The checkpoint was reset." in response.content.decode()
    assert not ChangeLog.objects.exists()


@override_settings(SYNCHRO_ALLOW_RESET=False)
def test_reset_hidden_and_refused_when_not_allowed(staff):
    Author.objects.create(name="a")
    assert 'name="reset"' not in staff.get(reverse("synchro:synchro")).content.decode()
    assert staff.post(reverse("synchro:synchro"), {"reset": "1"}).status_code == 403
    assert ChangeLog.objects.exists()


@pytest.mark.parametrize(
    ("language", "button", "never"),
    [
        ("pl", "Synchronizuj", "Jeszcze nie synchronizowano."),
        ("de", "Synchronisieren", "Noch nie synchronisiert."),
        ("fr", "Synchroniser", "Jamais synchronisé."),
        ("es", "Sincronizar", "Nunca sincronizado."),
    ],
)
def test_view_is_translated(staff, language, button, never):
    response = staff.get(reverse("synchro:synchro"), headers={"accept-language": language})
    content = response.content.decode()
    assert f'value="{button}"' in content and never in content


def test_summary_is_translated():
    from django.utils import translation

    from synchro import Summary

    with translation.override("de"):
        assert "1 hinzugefügt" in str(Summary(added=1))
    with translation.override("pl"):
        assert "dodano 1" in str(Summary(added=1))


def test_works_without_django_contrib_admin(client):
    from django.conf import settings

    apps_without_admin = [a for a in settings.INSTALLED_APPS if a != "django.contrib.admin"]
    with override_settings(INSTALLED_APPS=apps_without_admin, ROOT_URLCONF="tests.urls_noadmin"):
        url = reverse("synchro:synchro")
        assert client.get(url)["Location"].startswith(settings.LOGIN_URL)
        client.force_login(User.objects.create(username="staff", is_staff=True))
        Author.objects.create(name="a")
        response = client.post(url, {"synchronize": "1"}, follow=True)
        content = response.content.decode()
        assert "Synchronization finished" in content and "<!DOCTYPE html>" in content
        assert names(Author) == ["a"]
