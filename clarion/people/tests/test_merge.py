"""Merging duplicate people, the merge pages, and suggested duplicates."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from clarion.core import privacy
from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.people.models import (
    Activity,
    ConsentRecord,
    CustomField,
    EmailStatus,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonList,
    PersonPhone,
)
from clarion.people.services import (
    ConsentInput,
    list_add,
    note_add,
    person_merge,
    person_upsert,
    tag_add,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(areas, admin):
    CustomField.objects.create(key="shirt", label="Shirt")
    CustomField.objects.create(key="car", label="Car", kind="boolean")
    survivor = person_upsert(
        email="keep@example.net",
        first_name="Kim",
        last_name="",
        phone="07911 123456",
        postcode="LS1 4AP",
        custom_fields={"shirt": "M"},
        tags=["Shared", "KeepOnly"],
        lists=["Callers"],
    ).person
    duplicate = person_upsert(
        email="dup@example.net",
        first_name="Kimberly",
        last_name="Keeper",
        phone="020 7946 0000",
        postcode="LS2 7EY",
        town="Leeds",
        custom_fields={"shirt": "L", "car": "yes"},
        tags=["Shared", "DupOnly"],
        lists=["Callers", "Drivers"],
        identifier=("crm", "D-1"),
        consent=ConsentInput(channel="email", wording="Email me", source="petition"),
        email_status=EmailStatus.SUBSCRIBED,
    ).person
    PersonEmail.objects.create(person=duplicate, email="dup.work@example.org")
    PersonPhone.objects.create(person=duplicate, number="+441132430000")
    recruit = factories.person(postcode=areas.postcodes["north"])
    Person.objects.filter(pk=recruit.pk).update(recruiter=duplicate)
    Person.objects.filter(pk=duplicate.pk).update(
        membership_number="M-77", joined_on=datetime.date(2020, 1, 1)
    )
    note_add(person=duplicate, text="Dup's history", actor=admin)
    duplicate.refresh_from_db()
    return survivor, duplicate, recruit


def test_merge_moves_everything_to_the_survivor(pair, admin):
    survivor, duplicate, recruit = pair
    dup_id = duplicate.pk
    dup_activity_ids = set(duplicate.activities.values_list("pk", flat=True))
    kept = person_merge(survivor=survivor, duplicate=duplicate, actor=admin)

    assert not Person.objects.filter(pk=dup_id).exists()
    kept.refresh_from_db()
    assert kept.email == "keep@example.net"
    assert set(kept.other_emails.values_list("email", flat=True)) == {
        "dup@example.net",
        "dup.work@example.org",
    }
    assert set(kept.other_phones.values_list("number", flat=True)) == {
        "+442079460000",
        "+441132430000",
    }
    assert kept.phone == "+447911123456"
    assert set(kept.tags.values_list("name", flat=True)) == {"Shared", "KeepOnly", "DupOnly"}
    assert set(kept.lists.values_list("name", flat=True)) == {"Callers", "Drivers"}
    assert ConsentRecord.objects.filter(person=kept, wording="Email me").exists()
    assert PersonIdentifier.objects.get(system="crm", value="D-1").person_id == kept.pk
    assert dup_activity_ids <= set(kept.activities.values_list("pk", flat=True))
    assert kept.activities.filter(kind=Activity.Kind.NOTE, summary="Dup's history").exists()
    # Blank fields filled from the duplicate; the survivor's own values win.
    assert kept.first_name == "Kim" and kept.last_name == "Keeper" and kept.town == "Leeds"
    assert kept.postcode == "LS1 4AP"
    assert kept.membership_number == "M-77" and kept.joined_on == datetime.date(2020, 1, 1)
    assert kept.custom_fields == {"shirt": "M", "car": True}
    assert kept.email_status == EmailStatus.SUBSCRIBED
    recruit.refresh_from_db()
    assert recruit.recruiter_id == kept.pk
    merged = kept.activities.get(kind=Activity.Kind.MERGED)
    assert f"#{dup_id}" in merged.summary and "Kimberly Keeper" in merged.summary
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MERGE)
    assert (
        entry.actor == admin
        and entry.detail["duplicate"] == dup_id
        and entry.detail["survivor"] == kept.pk
    )


def test_merged_person_is_found_by_the_duplicates_email(pair, admin):
    survivor, duplicate, _ = pair
    person_merge(survivor=survivor, duplicate=duplicate, actor=admin)
    result = person_upsert(email="DUP@example.net", first_name="Again")
    assert result.person.pk == survivor.pk and not result.created


def test_an_unsubscribe_on_the_duplicate_wins_over_subscribed(areas, admin):
    keep = person_upsert(email="a@example.net", email_status=EmailStatus.SUBSCRIBED).person
    dup = person_upsert(
        email="b@example.net",
        email_status=EmailStatus.UNSUBSCRIBED,
        email_status_reason="clicked unsubscribe",
    ).person
    kept = person_merge(survivor=keep, duplicate=dup, actor=admin)
    kept.refresh_from_db()
    assert kept.email_status == EmailStatus.UNSUBSCRIBED


def test_merge_with_self_is_refused(north_person, admin):
    with pytest.raises(ValidationError):
        person_merge(survivor=north_person, duplicate=north_person, actor=admin)
    assert Person.objects.filter(pk=north_person.pk).exists()


def test_registered_merge_hooks_are_called(pair, admin):
    survivor, duplicate, _ = pair
    calls = []
    privacy.register(
        "testapp",
        export=lambda p: {},
        erase=lambda p: None,
        merge=lambda s, d: calls.append((s.pk, d.pk, Person.objects.filter(pk=d.pk).exists())),
    )
    try:
        person_merge(survivor=survivor, duplicate=duplicate, actor=admin)
    finally:
        privacy.unregister("testapp")
    # Called once, while the duplicate still existed, so rows can be re-pointed.
    assert calls == [(survivor.pk, duplicate.pk, True)]
    assert "testapp" in AuditEntry.objects.get(action="merge").detail["hooks"]


def test_merge_pages_as_admin(admin_client, pair):
    survivor, duplicate, _ = pair
    search = admin_client.get(reverse("people:merge", args=[survivor.pk]), {"q": "dup@example.net"})
    assert (
        reverse("people:merge_confirm", args=[survivor.pk, duplicate.pk]) in search.content.decode()
    )
    confirm = admin_client.get(reverse("people:merge_confirm", args=[survivor.pk, duplicate.pk]))
    html = confirm.content.decode()
    assert "keep@example.net" in html and "dup@example.net" in html and "DupOnly" in html
    # Keep the second record this time.
    response = admin_client.post(
        reverse("people:merge_confirm", args=[survivor.pk, duplicate.pk]),
        {"survivor": duplicate.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert not Person.objects.filter(pk=survivor.pk).exists()
    assert "keep@example.net" in response.content.decode()  # now an other email of the kept record
    assert AuditEntry.objects.filter(action="merge").count() == 1


def test_merge_confirm_rejects_an_unrelated_survivor(admin_client, pair, south_person):
    survivor, duplicate, _ = pair
    response = admin_client.post(
        reverse("people:merge_confirm", args=[survivor.pk, duplicate.pk]),
        {"survivor": south_person.pk},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Person.objects.filter(pk=duplicate.pk).exists()


def test_merge_with_self_in_the_ui_is_a_message(admin_client, north_person):
    response = admin_client.get(
        reverse("people:merge_confirm", args=[north_person.pk, north_person.pk]), follow=True
    )
    assert "Choose a different person" in response.content.decode()


def test_organiser_merges_only_inside_their_scope(
    organiser_client, areas, north_person, south_person
):
    other_north = factories.person(
        postcode=areas.postcodes["north2"], first_name="Nora", last_name="North"
    )
    search = organiser_client.get(reverse("people:merge", args=[north_person.pk]), {"q": "North"})
    assert other_north in search.context["candidates"]
    assert (
        organiser_client.get(reverse("people:merge", args=[north_person.pk]), {"q": "Sid"}).context[
            "candidates"
        ]
        == []
    )
    for first, second in ((north_person, south_person), (south_person, north_person)):
        url = reverse("people:merge_confirm", args=[first.pk, second.pk])
        assert organiser_client.get(url).status_code == 404
        assert organiser_client.post(url, {"survivor": first.pk}).status_code == 404
    assert Person.objects.filter(pk=south_person.pk).exists()
    url = reverse("people:merge_confirm", args=[north_person.pk, other_north.pk])
    assert organiser_client.post(url, {"survivor": north_person.pk}).status_code == 302
    assert not Person.objects.filter(pk=other_north.pk).exists()


def test_analyst_cannot_merge(client, analyst, north_person, areas):
    other = factories.person(postcode=areas.postcodes["north"])
    client.force_login(analyst)
    url = reverse("people:merge_confirm", args=[north_person.pk, other.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"survivor": north_person.pk}).status_code == 403
    assert client.get(reverse("people:duplicates")).status_code == 403
    assert Person.objects.filter(pk=other.pk).exists()


# --- suggested duplicates ------------------------------------------------------


def test_suggested_duplicates_by_email_variant_phone_and_name(admin_client, areas):
    north = areas.postcodes["north"]
    gmail_a = person_upsert(email="J.Smith+news@gmail.com", postcode=north).person
    gmail_b = person_upsert(email="jsmith@googlemail.com", postcode=north).person
    phone_a = person_upsert(email="p1@example.net", phone="07911 123456", postcode=north).person
    phone_b = person_upsert(email="p2@example.net", postcode=north).person
    Person.objects.filter(pk=phone_b.pk).update(phone="+447911123456")
    name_a = person_upsert(
        email="n1@example.net", first_name="Ann", last_name="Lee", postcode=north
    ).person
    name_b = person_upsert(
        email="n2@example.net", first_name="ANN", last_name="lee", postcode=north
    ).person
    person_upsert(
        email="n3@example.net", first_name="Ann", last_name="Lee", postcode=areas.postcodes["south"]
    )
    response = admin_client.get(reverse("people:duplicates"))
    pairs = {(p["a"].pk, p["b"].pk): p["reasons"] for p in response.context["pairs"]}
    assert pairs[(gmail_a.pk, gmail_b.pk)] == ["same email address"]
    assert pairs[(phone_a.pk, phone_b.pk)] == ["same phone number"]
    assert pairs[(name_a.pk, name_b.pk)] == ["same name and postcode"]
    assert len(pairs) == 3
    html = response.content.decode()
    assert reverse("people:merge_confirm", args=[gmail_a.pk, gmail_b.pk]) in html


def test_suggested_duplicates_stay_in_scope(organiser, areas):
    south = areas.postcodes["south"]
    person_upsert(email="x1@example.net", first_name="Bo", last_name="Ray", postcode=south)
    person_upsert(email="x2@example.net", first_name="Bo", last_name="Ray", postcode=south)
    client = Client()
    client.force_login(organiser)
    response = client.get(reverse("people:duplicates"))
    assert response.status_code == 200
    assert response.context["pairs"] == []
    assert "Bo Ray" not in response.content.decode()


def test_list_and_tag_memberships_survive_merge_without_duplicates(pair, admin):
    survivor, duplicate, _ = pair
    kept = person_merge(survivor=survivor, duplicate=duplicate, actor=admin)
    assert kept.list_memberships.filter(list=PersonList.objects.get(name="Callers")).count() == 1
    assert list_add(person=kept, plist=PersonList.objects.get(name="Drivers")) is False
    assert tag_add(person=kept, tag="Shared") is False
