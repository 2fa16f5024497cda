"""The donations part of the Action Network–compatible API: fundraising pages,
donations and the record donation helper, over HTTP as a script would use them."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from clarion.actions.models import ActionPage
from clarion.api.models import ApiKey
from clarion.api.tests.conftest import make_api
from clarion.donations.apis import donation_document, fundraising_page_document, money_pence
from clarion.donations.models import Donation
from clarion.people.models import Activity, Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(client, admin):
    return make_api(client, admin)


@pytest.fixture
def north_api(client, organiser):
    return make_api(client, organiser)


def _id(document: dict) -> int:
    return int(
        next(i for i in document["identifiers"] if i.startswith("action_network:")).split(":")[1]
    )


def _gift(person: Person, page: ActionPage, pence: int, status=Donation.Status.SUCCEEDED, **fields):
    return Donation.objects.create(
        person=person, page=page, amount_pence=pence, status=status, gateway="test", **fields
    )


def _give(api, page, email, amount="10.00", **extra):
    return api.post(
        f"fundraising_pages/{page.pk}/donations",
        {
            "person": {"email_addresses": [{"address": email}]},
            "recipients": [{"display_name": "The party", "amount": amount}],
            **extra,
        },
    )


# --- Fundraising pages -------------------------------------------------------------


def test_a_fundraising_page_is_created_hidden_and_listed_with_totals(
    admin_api, donation_page, north_person
):
    _gift(north_person, donation_page, 1250)
    _gift(north_person, donation_page, 750, refunded_pence=250)
    _gift(north_person, donation_page, 9900, status=Donation.Status.PENDING)
    response = admin_api.post(
        "fundraising_pages", {"title": "Winter appeal", "origin_system": "Elsewhere"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    page = ActionPage.objects.get(pk=_id(body))
    assert page.kind == ActionPage.Kind.DONATION and page.status == ActionPage.Status.DRAFT
    assert page.slug == "winter-appeal"
    assert body["title"] == "Winter appeal" and body["action_network:hidden"] is True
    assert body["browser_url"] == "http://testserver/act/winter-appeal/"
    assert body["total_donations"] == 0 and body["total_amount"] == "0.00"

    listed = admin_api.get("fundraising_pages").json()["_embedded"]["osdi:fundraising_pages"]
    by_title = {p["title"]: p for p in listed}
    assert set(by_title) == {"Winter appeal", "Fund the fight"}
    # Counted gifts only (not the pending one), net of the partial refund.
    assert by_title["Fund the fight"]["total_donations"] == 2
    assert by_title["Fund the fight"]["total_amount"] == "17.50"
    one = admin_api.get(f"fundraising_pages/{donation_page.pk}").json()
    assert one["total_amount"] == "17.50" and one["action_network:hidden"] is False


def test_pages_of_other_kinds_are_not_fundraising_pages(admin_api, donation_page):
    petition = ActionPage.objects.create(slug="save-the-bus", title="Save the bus", status="live")
    assert admin_api.get(f"fundraising_pages/{petition.pk}").status_code == 404
    listed = admin_api.get("fundraising_pages").json()
    assert [p["title"] for p in listed["_embedded"]["osdi:fundraising_pages"]] == ["Fund the fight"]


def test_updating_a_fundraising_page(admin_api, donation_page):
    response = admin_api.put(
        f"fundraising_pages/{donation_page.pk}",
        {"title": "Fund the fight (winter)", "action_network:hidden": True},
    )
    assert response.status_code == 200
    donation_page.refresh_from_db()
    assert (
        donation_page.title == "Fund the fight (winter)"
        and donation_page.status == ActionPage.Status.DRAFT
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "title"),
        ({"origin_system": "x"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "Appeal", "currency": "JPY"}, "JPY"),
        ({"title": "Appeal", "goal_amount": 5}, "goal_amount"),
    ],
)
def test_bad_fundraising_page_input_is_a_400(admin_api, payload, message):
    response = admin_api.post("fundraising_pages", payload)
    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not ActionPage.objects.exists()


# --- Record donation helper -------------------------------------------------------------


def test_record_donation_helper_stores_an_external_gift_in_pence(admin_api, donation_page, areas):
    response = admin_api.post(
        f"fundraising_pages/{donation_page.pk}/donations",
        {
            "person": {
                "given_name": "Ada",
                "email_addresses": [{"address": "ada@example.net"}],
                "postal_addresses": [{"postal_code": "LS2 7EY"}],
            },
            "recipients": [
                {"display_name": "The party", "amount": "3.10"},
                {"display_name": "The branch", "amount": "0.2"},
            ],
            "currency": "gbp",
            "created_date": "2026-01-05T10:00:00Z",
            "payment": {"method": "Check", "reference_number": "CHQ-0042"},
            "action_network:referrer_data": {"source": "street-stall"},
            "origin_system": "Till",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    donation = Donation.objects.get(pk=_id(body))
    person = Person.objects.get(email="ada@example.net")
    assert donation.person == person and donation.page == donation_page
    assert donation.amount_pence == 330 and donation.currency == "GBP"
    assert donation.status == Donation.Status.SUCCEEDED and donation.gateway == "external"
    assert donation.payment_method == "Check" and donation.source == "street-stall"
    assert donation.created_at.isoformat().startswith("2026-01-05T10:00:00")
    assert person.area == areas.leeds_central
    assert Activity.objects.filter(person=person, kind=Activity.Kind.DONATION).exists()
    assert body["amount"] == "3.30" and body["currency"] == "GBP"
    assert body["recipients"] == [{"display_name": "Clarion", "amount": "3.30"}]
    assert (
        body["payment"]["method"] == "Check" and body["payment"]["reference_number"] == "CHQ-0042"
    )
    assert body["origin_system"] == "Till"
    assert body["created_date"] == "2026-01-05T10:00:00Z"
    assert body["_links"]["osdi:fundraising_page"]["href"] == (
        f"http://testserver/api/v2/fundraising_pages/{donation_page.pk}"
    )
    assert body["_links"]["osdi:person"]["href"] == f"http://testserver/api/v2/people/{person.pk}"

    # The same payment reference again is the same gift, not a second one.
    again = _give(
        admin_api,
        donation_page,
        "ada@example.net",
        "3.30",
        payment={"reference_number": "CHQ-0042"},
    )
    assert again.status_code == 200 and _id(again.json()) == donation.pk
    assert Donation.objects.count() == 1
    assert admin_api.get(f"fundraising_pages/{donation_page.pk}").json()["total_amount"] == "3.30"


def test_a_recurring_gift_by_person_link(admin_api, donation_page, north_person):
    response = admin_api.post(
        f"fundraising_pages/{donation_page.pk}/donations",
        {
            "_links": {
                "osdi:person": {"href": f"http://testserver/api/v2/people/{north_person.pk}"}
            },
            "amount": "25",
            "action_network:recurrence": {"recurring": True, "period": "Monthly"},
        },
    )
    assert response.status_code == 201
    donation = Donation.objects.get()
    assert donation.person == north_person and donation.amount_pence == 2500 and donation.recurring
    assert donation.plan is None
    assert response.json()["action_network:recurrence"] == {"recurring": True, "period": "Monthly"}


def test_a_large_gift_is_flagged_for_a_permissibility_check(admin_api, donation_page, settings):
    settings.CLARION_PERMISSIBILITY_THRESHOLD_PENCE = 50_000
    _give(admin_api, donation_page, "big@example.net", "500.00")
    assert Donation.objects.get().permissibility == Donation.Permissibility.PENDING


def test_donation_payload_in_the_query_string(admin_api, donation_page, client):
    """Parsons 6.1.0 posts donations as query parameters with no body."""
    query = urlencode(
        {
            "recipients": json.dumps([{"display_name": "Party", "amount": "7.50"}]),
            "person": json.dumps({"email_addresses": [{"address": "q@example.net"}]}),
        }
    )
    ok = client.post(
        f"/api/v2/fundraising_pages/{donation_page.pk}/donations?{query}",
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert ok.status_code == 201, ok.content
    assert Donation.objects.get().amount_pence == 750
    lossy = client.post(
        f"/api/v2/fundraising_pages/{donation_page.pk}/donations?recipients=display_name&recipients=amount",
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert lossy.status_code == 400 and "JSON text" in lossy.json()["error"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"person": {"email_addresses": [{"address": "a@example.net"}]}}, 400, "amount"),
        ({"recipients": [{"amount": "5.00"}]}, 400, "donor"),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "amount": 12.5},
            400,
            "12.50",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "amount": "12.505"},
            400,
            "12.50",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "amount": "-5"},
            400,
            "12.50",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "amount": "0.00"},
            400,
            "nothing",
        ),
        (
            {
                "person": {"email_addresses": [{"address": "a@example.net"}]},
                "amount": "\u0661\u0662",
            },
            400,
            "12.50",
        ),
        (
            {
                "person": {"email_addresses": [{"address": "a@example.net"}]},
                "amount": "5",
                "action_network:recurrence": {"recurring": "maybe"},
            },
            400,
            "recurring",
        ),
        (
            {
                "person": {"email_addresses": [{"address": "a@example.net"}]},
                "amount": "5",
                "payment": {"reference_number": 1.5},
            },
            400,
            "reference_number",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "amount": "99999999"},
            400,
            "at most",
        ),
        (
            {
                "person": {"email_addresses": [{"address": "a@example.net"}]},
                "amount": "5",
                "currency": "XXX",
            },
            400,
            "XXX",
        ),
        (
            {
                "person": {"email_addresses": [{"address": "a@example.net"}]},
                "amount": "5",
                "recipients": [{"amount": "4.00"}],
            },
            400,
            "sum",
        ),
        (
            {
                "person": {"email_addresses": [{"address": "a@example.net"}]},
                "amount": "5",
                "created_date": "yesterday",
            },
            400,
            "created_date",
        ),
        ({"person": {"email_addresses": [{"address": "bad"}]}, "amount": "5"}, 400, "email"),
        (
            {
                "_links": {"osdi:person": {"href": "http://testserver/api/v2/people/999999"}},
                "amount": "5",
            },
            404,
            "person",
        ),
    ],
)
def test_bad_donation_input_is_refused_and_nothing_is_kept(
    admin_api, donation_page, payload, status, message
):
    response = admin_api.post(f"fundraising_pages/{donation_page.pk}/donations", payload)
    assert response.status_code == status, response.content
    assert message in json.dumps(response.json())
    assert not Donation.objects.exists() and not Person.objects.exists()


def test_a_read_only_key_cannot_record_gifts(client, admin, donation_page):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    assert _give(api, donation_page, "a@example.net").status_code == 403
    assert not Donation.objects.exists()


# --- Reading donations -------------------------------------------------------------


def test_donations_collections_page_and_filter(
    admin_api, donation_page, north_person, south_person
):
    other = ActionPage.objects.create(kind="donation", slug="other", title="Other", status="live")
    gifts = [_gift(north_person, donation_page, 500 + n) for n in range(3)]
    south_gift = _gift(south_person, other, 2000)
    _gift(north_person, donation_page, 999, status=Donation.Status.FAILED)

    first = admin_api.get("donations", per_page=2).json()
    assert first["total_records"] == 4 and first["total_pages"] == 2
    second = admin_api.get("donations", per_page=2, page=2).json()
    ids = [
        _id(d) for d in first["_embedded"]["osdi:donations"] + second["_embedded"]["osdi:donations"]
    ]
    assert sorted(ids) == sorted([g.pk for g in gifts] + [south_gift.pk])

    on_page = admin_api.get(f"fundraising_pages/{donation_page.pk}/donations").json()
    assert sorted(_id(d) for d in on_page["_embedded"]["osdi:donations"]) == [g.pk for g in gifts]
    theirs = admin_api.get(f"people/{south_person.pk}/donations").json()
    assert [_id(d) for d in theirs["_embedded"]["osdi:donations"]] == [south_gift.pk]
    one = admin_api.get(f"donations/{gifts[0].pk}").json()
    assert one["amount"] == "5.00" and one["payment"]["method"] == "Credit Card"
    assert one["action_network:person_id"] == str(north_person.pk)

    Donation.objects.filter(pk=gifts[0].pk).update(modified_at="2020-01-01T00:00:00Z")
    old = admin_api.get("donations", filter="modified_date lt '2021-01-01'").json()
    assert [_id(d) for d in old["_embedded"]["osdi:donations"]] == [gifts[0].pk]
    assert admin_api.get("donations", filter="amount gt 5").status_code == 400
    assert admin_api.get("donations/nope").status_code == 404


# --- Scope (invariant 4) ----------------------------------------------------------


def test_an_organisers_key_sees_only_gifts_of_people_in_their_area(
    north_api, donation_page, north_person, south_person
):
    north_gift = _gift(north_person, donation_page, 1000)
    south_gift = _gift(south_person, donation_page, 2000)
    listed = north_api.get("donations").json()
    assert [_id(d) for d in listed["_embedded"]["osdi:donations"]] == [north_gift.pk]
    assert "sid@example.net" not in json.dumps(listed)
    assert north_api.get(f"donations/{south_gift.pk}").status_code == 404
    assert north_api.get(f"people/{south_person.pk}/donations").status_code == 404
    assert north_api.get(f"people/{north_person.pk}/donations").status_code == 200
    # A national page is not an organiser's to see or record gifts on.
    assert north_api.get(f"fundraising_pages/{donation_page.pk}/donations").status_code == 404


def test_an_area_key_cannot_record_a_gift_for_someone_outside_it(
    client, admin, areas, south_person, donation_page
):
    api = make_api(client, admin, area=areas.north)
    north_page = ActionPage.objects.create(
        kind="donation", slug="north-fund", title="North fund", status="live", area=areas.north
    )
    assert api.get(f"fundraising_pages/{donation_page.pk}").status_code == 404
    response = _give(api, north_page, south_person.email)
    assert response.status_code == 403
    assert not Donation.objects.exists()
    link = api.post(
        f"fundraising_pages/{north_page.pk}/donations",
        {"_links": {"osdi:person": {"href": f"/api/v2/people/{south_person.pk}"}}, "amount": "5"},
    )
    assert link.status_code == 404 and not Donation.objects.exists()
    made = api.post("fundraising_pages", {"title": "North winter"})
    assert ActionPage.objects.get(pk=_id(made.json())).area == areas.north


# --- Documents and money -------------------------------------------------------------


def test_documents_without_a_request_link_to_the_site(settings, donation_page, north_person):
    settings.SITE_URL = "https://campaign.example.org"
    gift = _gift(north_person, donation_page, 1999)
    doc = donation_document(None, gift)
    assert (
        doc["_links"]["self"]["href"] == f"https://campaign.example.org/api/v2/donations/{gift.pk}"
    )
    assert doc["amount"] == "19.99" and doc["identifiers"] == [
        f"clarion:{gift.pk}",
        f"action_network:{gift.pk}",
    ]
    page = fundraising_page_document(None, donation_page)
    assert page["browser_url"] == "https://campaign.example.org/act/fund-the-fight/"
    assert page["total_amount"] == "19.99" and page["total_donations"] == 1


@pytest.mark.parametrize(
    ("text", "pence"), [("3.00", 300), ("3", 300), ("0.5", 50), ("1234.56", 123456), (7, 700)]
)
def test_money_text_is_read_exactly(text, pence):
    assert money_pence(text, "amount") == pence


# --- Background processing ----------------------------------------------------------
# The worker checks its connection as a process does, which needs real transactions.


@pytest.mark.django_db(transaction=True)
def test_background_donation_is_recorded_once_by_the_worker(
    admin_api, donation_page, django_capture_on_commit_callbacks
):
    from clarion.mailings.tests.helpers import run_tasks

    payload = {
        "person": {"email_addresses": [{"address": "later@example.net"}]},
        "recipients": [{"display_name": "Party", "amount": "12.00"}],
        "payment": {"method": "EFT", "reference_number": "BANK-77"},
    }
    for _attempt in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_api.post(
                f"fundraising_pages/{donation_page.pk}/donations?background_processing=true",
                payload,
            )
        assert response.status_code == 200 and response.json() == {}
    assert not Donation.objects.exists()
    run_tasks(django_capture_on_commit_callbacks)
    donation = Donation.objects.get()
    assert donation.amount_pence == 1200 and donation.person.email == "later@example.net"
    assert donation.payment_method == "EFT"
