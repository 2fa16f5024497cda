"""Proof with a real client: Parsons' ActionNetwork connector, unchanged, against a
live Clarion server. Parsons hardcodes https://actionnetwork.org/api/v2; it keeps the
base in ``api_url`` and in its HTTP connector's ``uri``, so the test points both at
the live server, which is what a user does by changing one URL."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    # Parsons announces at import that it installed only its core dependencies.
    warnings.simplefilter("ignore", RuntimeWarning)
    from parsons import ActionNetwork

from clarion.api.services import api_key_create
from clarion.people.models import EmailStatus, Person, Tag, Tagging

pytestmark = pytest.mark.django_db(transaction=True)


def connector(live_server, token: str) -> ActionNetwork:
    an = ActionNetwork(api_token=token)
    an.api_url = f"{live_server.url}/api/v2"
    an.api.uri = f"{live_server.url}/api/v2/"
    return an


def test_parsons_people_tags_and_taggings(live_server, admin, areas):
    _key, token = api_key_create(owner=admin, actor=admin)
    an = connector(live_server, token)

    created = an.upsert_person(
        email_address="grace@example.net",
        given_name="Grace",
        family_name="Hopper",
        postal_addresses=[{"postal_code": "LS1 4AP"}],
        tags=["Volunteer"],
    )
    person_id = [
        i.split(":")[1] for i in created["identifiers"] if i.startswith("action_network:")
    ][0]
    person = Person.objects.get(pk=int(person_id))
    assert person.email == "grace@example.net" and person.area == areas.leeds_central
    assert list(person.tags.values_list("name", flat=True)) == ["Volunteer"]

    # Upsert again with a status: same person, status now subscribed.
    again = an.upsert_person(
        email_address=[{"address": "grace@example.net", "status": "subscribed"}],
        given_name="Grace B.",
    )
    assert again["identifiers"] == created["identifiers"]
    person.refresh_from_db()
    assert person.first_name == "Grace B." and person.email_status == EmailStatus.SUBSCRIBED

    fetched = an.get_person(person_id)
    assert fetched["family_name"] == "Hopper"
    an.upsert_person(email_address="alan@example.net", given_name="Alan")
    everyone = an.get_people()
    assert sorted(row["given_name"] for row in everyone) == ["Alan", "Grace B."]
    filtered = an.get_people(filter="given_name eq 'Alan'")
    assert [row["given_name"] for row in filtered] == ["Alan"]
    first_page = an.get_people(page=1, per_page=1)
    assert first_page["total_records"] == 2 and first_page["total_pages"] == 2

    an.update_person(
        person_id,
        family_name="Murray Hopper",
        email_addresses=[{"address": "grace@example.net", "status": "unsubscribed"}],
    )
    person.refresh_from_db()
    assert person.last_name == "Murray Hopper" and person.email_status == EmailStatus.UNSUBSCRIBED

    tag = an.add_tag("Speaker")
    tag_id = [i.split(":")[1] for i in tag["identifiers"] if i.startswith("action_network:")][0]
    assert Tag.objects.filter(pk=int(tag_id), name="Speaker").exists()
    assert {row["name"] for row in an.get_tags()} == {"Volunteer", "Speaker"}

    tagging = an.create_tagging(
        tag_id, {"_links": {"osdi:person": {"href": f"{an.api_url}/people/{person_id}"}}}
    )
    assert person.tags.filter(name="Speaker").exists()
    tagging_id = tagging["identifiers"][0].split(":")[1]
    assert [row["identifiers"][0] for row in an.get_taggings(tag_id)] == [f"clarion:{tagging_id}"]
    an.delete_tagging(tag_id, tagging_id)
    assert not Tagging.objects.filter(pk=int(tagging_id)).exists()
    assert not person.tags.filter(name="Speaker").exists()


def test_parsons_sees_errors_as_errors(live_server, organiser, south_person):
    from requests import HTTPError

    _key, token = api_key_create(owner=organiser, actor=organiser)
    an = connector(live_server, token)
    with pytest.raises(HTTPError, match="404"):
        an.get_person(south_person.pk)
    with pytest.raises(HTTPError, match="403"):
        an.upsert_person(email_address="sid@example.net", given_name="Changed")
    south_person.refresh_from_db()
    assert south_person.first_name == "Sid"
