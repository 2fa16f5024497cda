"""A collection request costs a handful of queries with the database cache, however many
rows its page holds: the key, one rate-limit upsert, one read of the paging state, the
rows (and what their documents need, loaded per page, not per row), one write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clarion.actions.models import ActionPage
from clarion.actions.tests.conftest import make_page
from clarion.api.tests.conftest import make_api
from clarion.core.testing import factories
from clarion.events.tests.conftest import make_event
from clarion.members.membership import membership_join
from clarion.members.models import MembershipType
from clarion.people.models import (
    ListMembership,
    PersonEmail,
    PersonIdentifier,
    PersonList,
    PersonPhone,
    Tag,
    Tagging,
)

pytestmark = pytest.mark.django_db

MAX_QUERIES = 8
PEOPLE = 6


@pytest.fixture
def world(admin_api, areas):
    """Six people with tags, other emails and phones, foreign ids, addresses and a list;
    each signed a petition, filled a form, said they would come to an event and gave;
    half of them are members (``clarion:membership``)."""
    standard = MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly")
    tags = [Tag.objects.create(name=f"Tag {n}") for n in range(3)]
    plist, *_others = [PersonList.objects.create(name=f"List {n}") for n in range(3)]
    petition, *_others = [make_page(slug=f"petition-{n}") for n in range(3)]
    form = make_page(slug="volunteer", kind=ActionPage.Kind.SIGNUP, title="Volunteer")
    fund = make_page(slug="fund", kind=ActionPage.Kind.DONATION, title="Fund")
    event, *_others = [make_event(area=areas.leeds_central, days=3 + n) for n in range(3)]
    for n in range(PEOPLE):
        person = factories.person(
            postcode=areas.postcodes["north"],
            email=f"member{n}@example.net",
            phone=f"+4479110001{n:02d}",
            address_line1=f"{n} High Street",
            town="Leeds",
        )
        PersonEmail.objects.create(person=person, email=f"work{n}@example.org")
        PersonPhone.objects.create(person=person, number=f"+4479110002{n:02d}")
        PersonIdentifier.objects.create(person=person, system="crm", value=f"M-{n}")
        for tag in tags:
            Tagging.objects.create(person=person, tag=tag)
        ListMembership.objects.create(person=person, list=plist)
        if n % 2:
            membership_join(person=person, membership_type=standard, pays_by="manual")
        who = {"person": {"email_addresses": [{"address": person.email}]}}
        for path in (
            f"petitions/{petition.pk}/signatures",
            f"forms/{form.pk}/submissions",
            f"events/{event.pk}/attendances",
        ):
            assert admin_api.post(path, who).status_code in (200, 201), path
        gift = {**who, "recipients": [{"display_name": "The party", "amount": f"{5 + n}.00"}]}
        assert admin_api.post(f"fundraising_pages/{fund.pk}/donations", gift).status_code in (
            200,
            201,
        )
    return {
        "people": ("people", "osdi:people"),
        "tags": ("tags", "osdi:tags"),
        "taggings": (f"tags/{tags[0].pk}/taggings", "osdi:taggings"),
        "events": ("events", "osdi:events"),
        "attendances": (f"events/{event.pk}/attendances", "osdi:attendances"),
        "donations": ("donations", "osdi:donations"),
        "signatures": (f"petitions/{petition.pk}/signatures", "osdi:signatures"),
        "submissions": (f"forms/{form.pk}/submissions", "osdi:submissions"),
        "petitions": ("petitions", "osdi:petitions"),
        "lists": ("lists", "osdi:lists"),
        "list_items": (f"lists/{plist.pk}/items", "osdi:items"),
    }


def _queries(api, path: str, rel: str, per_page: int) -> tuple[int, int]:
    """(queries, rows on the page) for page 1 of ``path`` with ``per_page``."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(path, per_page=per_page)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), len(response.json()["_embedded"][rel])


COLLECTIONS = [
    "people",
    "tags",
    "taggings",
    "events",
    "attendances",
    "donations",
    "signatures",
    "submissions",
    "petitions",
    "lists",
    "list_items",
]


@pytest.mark.parametrize("name", COLLECTIONS)
def test_a_collection_page_costs_a_few_queries_whatever_its_size(admin_api, world, name):
    path, rel = world[name]
    small = 2
    # The first request of a key also counts its collection and stamps the key's use.
    cold, cold_rows = _queries(admin_api, path, rel, small)
    assert cold_rows == small
    assert cold <= MAX_QUERIES, f"{path}: {cold} queries on a cold first page"
    warm_small, _rows = _queries(admin_api, path, rel, small)
    warm_large, large_rows = _queries(admin_api, path, rel, 25)
    assert large_rows > small
    assert warm_small <= MAX_QUERIES and warm_large <= MAX_QUERIES
    # Bigger pages may need the count and a boundary written once more, never a query per row.
    assert warm_large <= warm_small + 2, (path, warm_small, warm_large)
    again, _rows = _queries(admin_api, path, rel, 25)
    assert again <= warm_small, (path, warm_small, again)


def test_a_person_page_still_shows_every_email_phone_and_id(admin_api, world):
    body = admin_api.get("people", per_page=25).json()
    people = body["_embedded"]["osdi:people"]
    assert len(people) == PEOPLE
    for doc in people:
        n = doc["email_addresses"][0]["address"].removeprefix("member").split("@")[0]
        assert [e["address"] for e in doc["email_addresses"]] == [
            f"member{n}@example.net",
            f"work{n}@example.org",
        ]
        assert [p["number"] for p in doc["phone_numbers"]] == [
            f"+4479110001{int(n):02d}",
            f"+4479110002{int(n):02d}",
        ]
        assert doc["identifiers"][2:] == [f"crm:M-{n}"]
        assert doc["postal_addresses"][0]["address_lines"] == [f"{n} High Street"]
        membership = doc["clarion:membership"]
        assert (membership or {}).get("type") == ("Standard" if int(n) % 2 else None)


def test_the_rate_limit_still_holds_with_the_database_state(client, admin, settings):
    settings.CLARION_API_RATE_PER_MINUTE = 3
    api = make_api(client, admin)
    codes = [api.get("tags").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_expired_paging_state_is_deleted_by_the_periodic_job(admin_api, world):
    from clarion.api.models import ApiState
    from clarion.core import schedule

    assert admin_api.get("people", per_page=2).status_code == 200
    live = set(ApiState.objects.values_list("key", flat=True))
    assert any(k.startswith("api:page:") for k in live)
    ApiState.objects.filter(key__startswith="api:").update(expires=0)
    job = next(j for j in schedule.jobs() if j.name == "api.state_cleanup")
    job.target()
    assert not ApiState.objects.filter(key__startswith="api:").exists()
    # An expired boundary reads as missing: the page is served again, not skipped.
    again = admin_api.get("people", per_page=2).json()
    assert again["total_records"] == PEOPLE and len(again["_embedded"]["osdi:people"]) == 2
