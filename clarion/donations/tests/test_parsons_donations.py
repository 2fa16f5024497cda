"""Proof with a real client: Parsons' ActionNetwork connector (6.1.0, unchanged) creates
and reads fundraising pages and records and reads donations on a live Clarion server.

Parsons sends ``create_fundraising_page``'s and ``create_donation``'s payloads as query
parameters, which cannot carry a nested object; a client gives nested values
(``recipients``, ``person``, ``_links``) as JSON text, which Clarion decodes.
"""

from __future__ import annotations

import json

import pytest
from requests import HTTPError

from clarion.actions.models import ActionPage
from clarion.api.services import api_key_create
from clarion.api.tests.test_parsons import connector
from clarion.core.testing import factories
from clarion.donations.models import Donation

pytestmark = pytest.mark.django_db(transaction=True)


def _id(document: dict) -> str:
    return next(i for i in document["identifiers"] if i.startswith("action_network:")).split(":")[1]


def test_parsons_fundraising_pages_and_donations(live_server, admin, areas):
    _key, token = api_key_create(owner=admin, actor=admin)
    an = connector(live_server, token)
    donor = factories.person(email="ada@example.net", first_name="Ada", postcode="LS1 4AP")

    created = an.create_fundraising_page({"title": "Winter appeal", "origin_system": "Till"})
    page = ActionPage.objects.get(pk=int(_id(created)))
    assert page.kind == ActionPage.Kind.DONATION and page.title == "Winter appeal"
    assert [row["title"] for row in an.get_fundraising_pages()] == ["Winter appeal"]
    assert an.get_fundraising_page(page.pk)["total_amount"] == "0.00"

    gift = an.create_donation(
        page.pk,
        {
            "recipients": json.dumps([{"display_name": "The party", "amount": "3.00"}]),
            "created_date": "2026-01-01T00:00:00Z",
            "_links": json.dumps({"osdi:person": {"href": f"{an.api_url}/people/{donor.pk}"}}),
        },
    )
    assert gift["amount"] == "3.00"
    donation = Donation.objects.get(pk=int(_id(gift)))
    assert donation.person == donor and donation.amount_pence == 300 and donation.page == page
    an.create_donation(
        page.pk,
        {
            "recipients": json.dumps([{"display_name": "The party", "amount": "12.50"}]),
            "person": json.dumps({"email_addresses": [{"address": "grace@example.net"}]}),
            "payment": json.dumps({"method": "Check", "reference_number": "CHQ-1"}),
        },
    )
    assert Donation.objects.get(person__email="grace@example.net").amount_pence == 1250

    assert sorted(row["amount"] for row in an.get_donations()) == ["12.50", "3.00"]
    assert sorted(row["amount"] for row in an.get_fundraising_page_donations(page.pk)) == [
        "12.50",
        "3.00",
    ]
    assert [row["amount"] for row in an.get_person_donations(donor.pk)] == ["3.00"]
    assert an.get_donation(donation.pk)["action_network:person_id"] == str(donor.pk)
    assert an.get_fundraising_page(page.pk)["total_amount"] == "15.50"

    # Parsons' own example payload arrives without its amounts (a query string keeps
    # only a nested object's keys): a clear 400, and nothing is recorded.
    with pytest.raises(HTTPError, match="400"):
        an.create_donation(
            page.pk,
            {
                "recipients": [{"display_name": "The party", "amount": "3.00"}],
                "_links": {"osdi:person": {"href": f"{an.api_url}/people/{donor.pk}"}},
            },
        )
    assert Donation.objects.count() == 2


def test_parsons_sees_scope_errors(live_server, organiser, areas, south_person):
    page = ActionPage.objects.create(kind="donation", slug="fund", title="Fund", status="live")
    Donation.objects.create(
        person=south_person,
        page=page,
        amount_pence=500,
        status=Donation.Status.SUCCEEDED,
        gateway="test",
    )
    _key, token = api_key_create(owner=organiser, actor=organiser)
    an = connector(live_server, token)
    assert an.get_donations().num_rows == 0
    with pytest.raises(HTTPError, match="404"):
        an.get_person_donations(south_person.pk)
    with pytest.raises(HTTPError, match="404"):
        an.get_fundraising_page(page.pk)
