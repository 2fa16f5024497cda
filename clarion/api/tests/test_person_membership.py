"""``clarion:membership`` on person documents: every key reads it, only an admin's key
changes it (through the membership services, audited), bad values are a 400 that
changes nothing, and a page of people reads memberships in one query."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.members.membership import membership_join
from clarion.members.models import Membership, MembershipChange, MembershipType
from clarion.people.models import MembershipStatus, Person

pytestmark = pytest.mark.django_db

KEY = "clarion:membership"
D = dt.date


@pytest.fixture
def standard(db):
    return MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly", order=1)


@pytest.fixture
def concession(db):
    return MembershipType.objects.create(
        name="Concession", rate_pence=200, period="annual", order=2
    )


@pytest.fixture
def member(north_person, standard):
    membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 3, 10)
    )
    return north_person


def test_every_key_reads_the_membership(admin_api, north_api, read_api, member):
    for api in (admin_api, north_api, read_api):
        doc = api.get(f"people/{member.pk}").json()
        assert doc[KEY] == {
            "status": "active",
            "number": 1,
            "type": "Standard",
            "joined_on": "2026-03-10",
            "renews_on": "2026-04-10",
            "pays_by": "manual",
        }


def test_someone_who_never_joined_reads_null(admin_api, north_person):
    assert admin_api.get(f"people/{north_person.pk}").json()[KEY] is None


def test_the_collection_shows_memberships_in_one_query_for_the_page(
    admin_api, areas, standard, concession
):
    people = [
        factories.person(postcode=areas.postcodes["north"], email=f"p{n}@example.net")
        for n in range(8)
    ]
    for n, person in enumerate(people[:6]):
        membership_join(
            person=person,
            membership_type=standard if n % 2 else concession,
            pays_by="manual",
            started_at=D(2026, 1, 1 + n),
        )

    def page(per_page):
        with CaptureQueriesContext(connection) as captured:
            body = admin_api.get("people", per_page=per_page).json()
        reads = [q["sql"] for q in captured.captured_queries if "members_membership" in q["sql"]]
        return body["_embedded"]["osdi:people"], reads

    page(2)  # the first request counts the collection and stamps the key
    small, small_reads = page(2)
    large, large_reads = page(8)
    assert len(small) == 2 and len(large) == 8
    assert len(small_reads) == len(large_reads) == 1
    by_email = {d["email_addresses"][0]["address"]: d[KEY] for d in large}
    assert by_email["p0@example.net"]["type"] == "Concession"
    assert by_email["p1@example.net"]["type"] == "Standard"
    assert by_email["p3@example.net"]["joined_on"] == "2026-01-04"
    assert by_email["p6@example.net"] is None and by_email["p7@example.net"] is None


def test_an_admin_key_changes_status_type_and_renewal_as_a_staff_change(
    admin_api, admin, member, concession
):
    response = admin_api.put(
        f"people/{member.pk}",
        {KEY: {"status": "grace", "type": "concession", "renews_on": "2026-05-01"}},
    )
    assert response.status_code == 200, response.content
    assert response.json()[KEY]["status"] == "grace"
    assert response.json()[KEY]["type"] == "Concession"
    membership = Membership.objects.get(person=member)
    assert (membership.status, membership.membership_type, membership.renews_on) == (
        "grace",
        concession,
        D(2026, 5, 1),
    )
    assert membership.grace_until is not None
    change = MembershipChange.objects.filter(membership=membership, kind="changed").get()
    assert change.actor == admin and "API" in change.reason
    assert AuditEntry.objects.filter(
        object_type="person", object_id=member.pk, detail__membership="changed"
    ).exists()
    assert Person.objects.get(pk=member.pk).renews_on == D(2026, 5, 1)


def test_an_admin_key_makes_a_member_paid_by_hand_with_the_next_number(
    admin_api, north_person, standard
):
    response = admin_api.put(
        f"people/{north_person.pk}", {KEY: {"type": "Standard", "joined_on": "2026-02-01"}}
    )
    assert response.status_code == 200, response.content
    assert response.json()[KEY] == {
        "status": "active",
        "number": 1,
        "type": "Standard",
        "joined_on": "2026-02-01",
        "renews_on": "2026-03-01",
        "pays_by": "manual",
    }
    person = Person.objects.get(pk=north_person.pk)
    assert person.membership_status == MembershipStatus.ACTIVE and person.membership_number == "1"


def test_a_number_from_elsewhere_is_kept_and_audited(admin_api, north_person, standard):
    response = admin_api.put(
        f"people/{north_person.pk}",
        {KEY: {"type": "Standard", "number": 5000, "renews_on": "2027-01-01"}},
    )
    assert response.status_code == 200, response.content
    assert response.json()[KEY]["number"] == 5000
    assert AuditEntry.objects.filter(object_id=north_person.pk, detail__membership="imported")


def test_the_signup_helper_takes_a_membership(admin_api, areas, standard):
    response = admin_api.post(
        "people",
        {
            "person": {
                "email_addresses": [{"address": "new.member@example.net"}],
                "postal_addresses": [{"postal_code": areas.postcodes["north"]}],
                KEY: {"type": "Standard"},
            }
        },
    )
    assert response.status_code in (200, 201), response.content
    assert response.json()[KEY]["status"] == "active"
    assert Membership.objects.filter(person__email="new.member@example.net").exists()


def test_an_organisers_key_reads_but_may_not_change_a_membership(north_api, member):
    doc = north_api.get(f"people/{member.pk}").json()
    # Sending the document back as it was read changes nothing and is allowed.
    same = north_api.put(f"people/{member.pk}", {"given_name": "Nia", KEY: doc[KEY]})
    assert same.status_code == 200, same.content
    refused = north_api.put(
        f"people/{member.pk}", {"given_name": "Changed", KEY: {"status": "cancelled"}}
    )
    assert refused.status_code == 403
    assert "admin" in refused.json()["error"]
    person = Person.objects.get(pk=member.pk)
    assert person.first_name == "Nia"  # the refused write changed nothing, the name either
    assert Membership.objects.get(person=member).status == "active"


def test_a_read_only_key_may_not_write_at_all(read_api, member):
    response = read_api.put(f"people/{member.pk}", {KEY: {"status": "lapsed"}})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ({"type": "Platinum"}, "type", "Unknown membership type Platinum"),
        ({"renews_on": "next spring"}, "renews_on", "must be a date"),
        ({"status": "honorary"}, "status", "status must be one of"),
        ({"status": "active", "renews_on": None}, "renews_on", "needs a renewal date"),
        ({"number": 99}, "number", "for life"),
        ({"pays_by": "card"}, "pays_by", "Join page"),
        ({"number": -3}, "number", "whole number"),
    ],
)
def test_a_bad_value_is_a_400_naming_the_field_and_nothing_is_written(
    admin_api, member, value, field, words
):
    response = admin_api.put(f"people/{member.pk}", {"family_name": "Kept?", KEY: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert words in body["error"]
    assert f"{KEY}.{field}" in body["errors"]
    assert Person.objects.get(pk=member.pk).last_name != "Kept?"
    membership = Membership.objects.get(person=member)
    assert (membership.status, membership.renews_on) == ("active", D(2026, 4, 10))
    assert not MembershipChange.objects.filter(kind="changed").exists()


def test_other_shapes_are_refused_too(admin_api, member, areas):
    other = factories.person(postcode=areas.postcodes["north"], email="other@example.net")
    assert admin_api.put(f"people/{member.pk}", {KEY: "active"}).status_code == 400
    unknown = admin_api.put(f"people/{member.pk}", {KEY: {"colour": "red"}})
    assert unknown.status_code == 400 and "colour" in unknown.json()["error"]
    removed = admin_api.put(f"people/{member.pk}", {KEY: None})
    assert removed.status_code == 400 and "cancelled" in removed.json()["error"]
    # null for someone without a membership is what they read: nothing to do.
    assert admin_api.put(f"people/{other.pk}", {KEY: None}).status_code == 200
    no_type = admin_api.put(f"people/{other.pk}", {KEY: {"status": "active"}})
    assert no_type.status_code == 400 and f"{KEY}.type" in no_type.json()["errors"]
    assert not Membership.objects.filter(person=other).exists()


def test_the_openapi_document_describes_the_field(client):
    doc = client.get("/api/v2/openapi.json").json()
    person = doc["components"]["schemas"]["person"]["properties"]
    assert set(person[KEY]["properties"]) == {
        "status",
        "number",
        "type",
        "joined_on",
        "renews_on",
        "pays_by",
    }


def test_a_signup_whose_membership_is_refused_adds_nobody(north_api, admin_api, areas, standard):
    person = {
        "email_addresses": [{"address": "refused@example.net"}],
        "postal_addresses": [{"postal_code": areas.postcodes["north"]}],
    }
    refused = north_api.post("people", {"person": {**person, KEY: {"type": "Standard"}}})
    assert refused.status_code == 403
    bad = admin_api.post("people", {"person": {**person, KEY: {"type": "Gold"}}})
    assert bad.status_code == 400 and f"{KEY}.type" in bad.json()["errors"]
    assert not Person.objects.filter(email="refused@example.net").exists()
    assert not Membership.objects.exists()
