"""Subject access export and erasure (DESIGN.md invariant 7), driven by the
``clarion.core.privacy`` registry."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models.functions import Cast
from django.test import Client
from django.urls import reverse

from clarion.core import privacy
from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.people.models import Person, PersonEmail, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import (
    ConsentInput,
    note_add,
    person_erase,
    person_merge,
    person_upsert,
)

pytestmark = pytest.mark.django_db

EMAIL = "zeb.quill@example.net"
NAME = "Quillfeather"


def rows_mentioning(needle: str) -> list[str]:
    """Every model row, in every installed app, with ``needle`` in a text or JSON column."""
    found = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        text_fields = [
            f
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField))
        ]
        for field in text_fields:
            qs = model._default_manager.annotate(_as_text=Cast(field.attname, models.TextField()))
            if qs.filter(_as_text__icontains=needle).exists():
                found.append(f"{model._meta.label}.{field.name}")
    return found


@pytest.fixture
def zeb(areas, admin):
    person = person_upsert(
        email=EMAIL,
        first_name="Zebedee",
        last_name=NAME,
        phone="07911 123456",
        postcode=areas.postcodes["north"],
        tags=["Donor"],
        lists=["Callers"],
        identifier=("crm", "Z-1"),
        source_code="petition-zeb",
        consent=ConsentInput(
            channel="email", wording="Email me, Zebedee Quillfeather", source="form"
        ),
    ).person
    PersonEmail.objects.create(person=person, email="zq.work@example.org")
    note_add(person=person, text=f"Zebedee {NAME} phoned in", actor=admin)
    recruit = factories.person(postcode=areas.postcodes["north"])
    Person.objects.filter(pk=recruit.pk).update(recruiter=person)
    return person


@pytest.fixture
def test_app_registration():
    calls = []

    def export(person):
        calls.append(("export", person.pk))
        return {"favourite_colour": "teal"}

    def erase(person):
        # Runs while the person still exists, so the app can find its rows.
        calls.append(("erase", person.pk, Person.objects.filter(pk=person.pk).exists()))

    privacy.register("testapp", export=export, erase=erase)
    yield calls
    privacy.unregister("testapp")


def test_people_registers_itself_with_the_privacy_registry():
    assert "people" in [r.name for r in privacy.registrations()]


def test_erasure_leaves_only_a_suppression_hash(zeb, admin, test_app_registration):
    assert rows_mentioning(EMAIL)  # the check can see the data before erasure
    assert rows_mentioning(NAME)
    person_id = zeb.pk
    person_erase(person=zeb, actor=admin)
    assert not Person.objects.filter(pk=person_id).exists()
    assert rows_mentioning(EMAIL) == []
    assert rows_mentioning(NAME) == []
    assert rows_mentioning("zq.work@example.org") == []
    assert rows_mentioning("+447911123456") == []
    suppressed = Suppression.objects.get(email_hash=email_hash(EMAIL))
    assert suppressed.reason == "erased"
    assert Suppression.objects.filter(email_hash=email_hash("zq.work@example.org")).exists()
    assert ("erase", person_id, True) in test_app_registration
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ERASE)
    assert entry.object_id == str(person_id) and "testapp" in entry.detail["apps"]


def test_erasure_after_a_merge_removes_the_duplicates_details_too(zeb, admin, areas):
    other = person_upsert(email="zebedee.q@example.net", first_name="Zeb", last_name=NAME).person
    kept = person_merge(survivor=zeb, duplicate=other, actor=admin)
    person_erase(person=kept, actor=admin)
    assert rows_mentioning("zebedee.q@example.net") == []
    assert rows_mentioning(NAME) == []
    assert Suppression.objects.filter(email_hash=email_hash("zebedee.q@example.net")).exists()


def test_an_erased_person_who_signs_up_again_is_a_new_record_still_suppressed(zeb, admin):
    person_erase(person=zeb, actor=admin)
    again = person_upsert(email=EMAIL.upper())
    assert again.created
    assert Suppression.objects.filter(email_hash=email_hash(EMAIL)).exists()


def test_admin_downloads_their_data_as_json(admin_client, zeb, test_app_registration):
    response = admin_client.post(reverse("people:export", args=[zeb.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["people"]["person"]["email"] == EMAIL
    assert data["people"]["other_emails"] == ["zq.work@example.org"]
    assert data["people"]["tags"] == ["Donor"] and data["people"]["lists"] == ["Callers"]
    assert data["people"]["identifiers"] == [{"system": "crm", "value": "Z-1"}]
    assert data["people"]["consents"][0]["wording"] == "Email me, Zebedee Quillfeather"
    assert any("phoned in" in a["summary"] for a in data["people"]["activities"])
    assert data["people"]["recruits"] == 1
    assert data["testapp"] == {"favourite_colour": "teal"}
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert entry.object_id == str(zeb.pk)
    assert EMAIL not in entry.summary


def test_export_needs_post(admin_client, zeb):
    assert admin_client.get(reverse("people:export", args=[zeb.pk])).status_code == 405


def test_admin_erases_through_the_confirm_page(admin_client, zeb):
    url = reverse("people:erase", args=[zeb.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "cannot be undone" in page.content.decode()
    unconfirmed = admin_client.post(url, {}, follow=True)
    assert "Tick the box" in unconfirmed.content.decode()
    assert Person.objects.filter(pk=zeb.pk).exists()
    response = admin_client.post(url, {"confirm": "erase"}, follow=True)
    assert response.status_code == 200
    assert "has been erased" in response.content.decode()
    assert not Person.objects.filter(pk=zeb.pk).exists()
    assert Suppression.objects.filter(email_hash=email_hash(EMAIL), reason="erased").exists()


def test_only_admins_export_or_erase(organiser, south_organiser, analyst, zeb):
    for user, expected in ((organiser, 403), (analyst, 403), (south_organiser, 404)):
        client = Client()
        client.force_login(user)
        assert client.post(reverse("people:export", args=[zeb.pk])).status_code == expected
        assert client.get(reverse("people:erase", args=[zeb.pk])).status_code == expected
        assert (
            client.post(reverse("people:erase", args=[zeb.pk]), {"confirm": "erase"}).status_code
            == expected
        )
    assert Person.objects.filter(pk=zeb.pk).exists()
    assert not AuditEntry.objects.filter(action__in=["export", "erase"]).exists()


def test_person_export_command(zeb, capsys, test_app_registration):
    call_command("person_export", "--email", " Zeb.Quill@Example.NET ")
    data = json.loads(capsys.readouterr().out)
    assert data["people"]["person"]["last_name"] == NAME
    assert data["testapp"] == {"favourite_colour": "teal"}
    assert AuditEntry.objects.filter(action="export", object_id=str(zeb.pk)).exists()


def test_person_erase_command_needs_yes(zeb, test_app_registration):
    with pytest.raises(CommandError, match="--yes"):
        call_command("person_erase", "--email", EMAIL)
    assert Person.objects.filter(pk=zeb.pk).exists()
    call_command("person_erase", "--email", "zq.work@example.org", "--yes")
    assert not Person.objects.filter(pk=zeb.pk).exists()
    assert rows_mentioning(EMAIL) == []
    assert Suppression.objects.filter(email_hash=email_hash(EMAIL)).exists()
    assert any(call[0] == "erase" for call in test_app_registration)


def test_commands_refuse_unknown_or_invalid_emails(db):
    with pytest.raises(CommandError, match="No person"):
        call_command("person_export", "--email", "nobody@example.net")
    with pytest.raises(CommandError, match="Not a valid email"):
        call_command("person_erase", "--email", "not an email", "--yes")
