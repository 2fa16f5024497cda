"""Every link a person document and the entry point carry answers, with the key that
read them: clients written against Action Network follow these links without checking
for them (a missing ``osdi:taggings`` was a ``KeyError`` in such a client)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.actions.services import SubmissionInput, submission_record
from clarion.api.models import ApiKey
from clarion.donations.models import Donation
from clarion.events.models import Event
from clarion.events.services import RsvpInput, event_save, rsvp_create
from clarion.people.services import person_upsert, tag_add

from .conftest import make_api

pytestmark = pytest.mark.django_db

# The relations of Action Network's documented person resource (its ``_links``).
ACTION_NETWORK_PERSON_RELATIONS = {
    "self",
    "osdi:attendances",
    "osdi:signatures",
    "osdi:submissions",
    "osdi:donations",
    "osdi:outreaches",
    "osdi:taggings",
    "action_network:responses",
    "curies",
}
# The collection each relation of an active person must list something in.
ACTED_ON = (
    "osdi:attendances",
    "osdi:signatures",
    "osdi:submissions",
    "osdi:donations",
    "osdi:outreaches",
    "osdi:taggings",
    "action_network:responses",
)


def _page(kind, slug, **fields):
    return ActionPage.objects.create(
        kind=kind, slug=slug, title=slug.replace("-", " "), status=ActionPage.Status.LIVE, **fields
    )


@pytest.fixture
def active_person(areas):
    """A North supporter who has done everything Clarion records about a person."""
    email = "ada@example.net"
    person = person_upsert(
        email=email, first_name="Ada", last_name="Active", postcode=areas.postcodes["north"]
    ).person
    tag_add(person=person, tag="Volunteer")
    for kind, slug, extra in (
        (ActionPage.Kind.PETITION, "save-the-pool", {}),
        (ActionPage.Kind.SIGNUP, "join-us", {}),
        (ActionPage.Kind.SURVEY, "your-views", {"questions": [{"key": "q", "label": "Q"}]}),
        (
            ActionPage.Kind.LETTER,
            "write-to-the-mayor",
            {"target_name": "The Mayor", "letter_body": "Keep the pool open."},
        ),
    ):
        submission_record(
            page=_page(kind, slug, **extra),
            data=SubmissionInput(
                email=email, answers={"q": "buses"}, letter_body="Keep the pool open."
            ),
        )
    soon = timezone.now() + datetime.timedelta(days=2)
    event = event_save(
        event=Event(
            title="Doorstep",
            kind=Event.Kind.CANVASS,
            area=areas.leeds_central,
            postcode="LS1 4AP",
            starts_at=soon,
            ends_at=soon + datetime.timedelta(hours=2),
            capacity=10,
        )
    )
    rsvp_create(event=event, data=RsvpInput(email=email))
    Donation.objects.create(
        person=person,
        page=_page(ActionPage.Kind.DONATION, "fund-us"),
        amount_pence=2500,
        status=Donation.Status.SUCCEEDED,
        gateway="test",
    )
    return person


@pytest.fixture
def phone_only_person(areas):
    """A person with no email address (a phone-only import): no action of theirs can be
    recorded, but their document links the same collections, empty."""
    return person_upsert(
        phone="+447911222333", first_name="Pat", postcode=areas.postcodes["north"]
    ).person


def _path(href: str) -> str:
    assert href.startswith("http://testserver/api/v2/"), href
    return href.removeprefix("http://testserver/api/v2/")


def _follow_every_link(api, doc: dict) -> dict[str, dict]:
    links = doc["_links"]
    missing = ACTION_NETWORK_PERSON_RELATIONS - set(links)
    assert not missing, f"the person document lacks {sorted(missing)}"
    answers = {}
    for rel, link in links.items():
        if rel == "curies":
            continue
        response = api.get(_path(link["href"]))
        assert response.status_code == 200, (rel, response.status_code, response.content[:300])
        assert response["Content-Type"] == "application/hal+json"
        answers[rel] = response.json()
    return answers


@pytest.mark.parametrize("who", ["admin", "organiser"])
def test_every_relation_of_an_active_persons_document_answers(
    client, admin, organiser, active_person, who
):
    api = make_api(client, admin if who == "admin" else organiser)
    doc = api.get(f"people/{active_person.pk}").json()
    answers = _follow_every_link(api, doc)
    assert answers["self"]["given_name"] == "Ada"
    for rel in ACTED_ON:
        # The survey is a form too (Action Network clients list it under both).
        assert answers[rel]["total_records"] == (2 if rel == "osdi:submissions" else 1), rel
        # Each item links back to this person.
        for item in next(iter(answers[rel]["_embedded"].values())):
            assert item["_links"]["osdi:person"]["href"].endswith(f"/people/{active_person.pk}")
    tagging = answers["osdi:taggings"]["_embedded"]["osdi:taggings"][0]
    tag = api.get(_path(tagging["_links"]["osdi:tag"]["href"])).json()
    assert tag["name"] == "Volunteer"
    outreach = answers["osdi:outreaches"]["_embedded"]["osdi:outreaches"][0]
    assert outreach["targets"] == [{"name": "The Mayor"}]
    assert outreach["message"] == "Keep the pool open."
    response = answers["action_network:responses"]["_embedded"]["action_network:responses"][0]
    assert response["clarion:answers"] == {"q": "buses"}


def test_a_person_without_email_links_the_same_collections_empty(client, admin, phone_only_person):
    api = make_api(client, admin)
    doc = api.get(f"people/{phone_only_person.pk}").json()
    assert doc["email_addresses"] == []
    answers = _follow_every_link(api, doc)
    for rel in ACTED_ON:
        assert answers[rel]["total_records"] == 0, rel


def test_person_documents_in_listings_and_write_answers_carry_every_relation(
    client, admin, active_person
):
    api = make_api(client, admin)
    listing = api.get("people").json()["_embedded"]["osdi:people"]
    signup = api.post(
        "people", {"person": {"email_addresses": [{"address": "new@example.net"}]}}
    ).json()
    updated = api.put(f"people/{active_person.pk}", {"given_name": "Ada B."}).json()
    for doc in [*listing, signup, updated]:
        assert ACTION_NETWORK_PERSON_RELATIONS <= set(doc["_links"]), doc["_links"].keys()
    _follow_every_link(api, signup)


def test_a_person_outside_an_area_keys_reach_is_not_found_through_any_relation(
    client, organiser, south_person
):
    api = make_api(client, organiser)
    for suffix in ("", "/taggings", "/outreaches", "/responses", "/signatures"):
        response = api.get(f"people/{south_person.pk}{suffix}")
        assert response.status_code == 404, suffix
        assert "error" in response.json()


# --- The entry point ---------------------------------------------------------------------


def _follow_entry(api) -> set[str]:
    doc = api.get("").json()
    rels = set()
    for rel, link in doc["_links"].items():
        if rel == "curies":
            continue
        response = api.get(_path(link["href"]))
        assert response.status_code == 200, (rel, response.status_code, response.content[:300])
        rels.add(rel)
    return rels


def test_every_link_of_the_entry_point_answers(client, admin):
    rels = _follow_entry(make_api(client, admin))
    assert {
        "osdi:people",
        "osdi:tags",
        "osdi:petitions",
        "osdi:forms",
        "osdi:advocacy_campaigns",
        "action_network:surveys",
        "osdi:events",
        "osdi:fundraising_pages",
        "osdi:donations",
        "osdi:messages",
        "action_network:metadata",
    } <= rels


@pytest.mark.parametrize(
    "resources,expected",
    [
        (["people"], {"osdi:people", "osdi:lists", "osdi:queries"}),
        (
            ["actions"],
            {
                "osdi:petitions",
                "osdi:forms",
                "osdi:advocacy_campaigns",
                "action_network:surveys",
            },
        ),
    ],
)
def test_a_key_limited_to_resources_is_linked_only_where_it_may_go(
    client, organiser, resources, expected
):
    api = make_api(client, organiser, resources=resources, scope=ApiKey.Scope.READ)
    rels = _follow_entry(api)
    assert expected <= rels
    assert "osdi:advocacy_campaigns" not in rels or "actions" in resources
