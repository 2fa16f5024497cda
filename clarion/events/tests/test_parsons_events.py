"""Proof with a real client: Parsons' ActionNetwork connector (6.1.0, unchanged) creates,
reads and updates events and records and reads attendances on a live Clarion server.

Parsons sends ``create_attendance``'s payload as query parameters, which cannot carry
a nested object; a client gives nested values (``person``, ``_links``) as JSON text,
which Clarion decodes. ``update_event`` sends a form-encoded body, which Clarion reads.
"""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone
from requests import HTTPError

from clarion.api.services import api_key_create
from clarion.api.tests.test_parsons import connector
from clarion.core.testing import factories
from clarion.events.models import Event, Rsvp
from clarion.people.models import Person

pytestmark = pytest.mark.django_db(transaction=True)


def test_parsons_events_and_attendances(live_server, admin, areas):
    _key, token = api_key_create(owner=admin, actor=admin)
    an = connector(live_server, token)
    start = (timezone.localtime() + datetime.timedelta(days=7)).replace(
        hour=18, minute=30, second=0, microsecond=0, tzinfo=None
    )

    created = an.create_event(
        "Leafleting the market",
        start_date=start,
        location={
            "venue": "Kirkgate Market",
            "address_lines": ["34 George St"],
            "locality": "Leeds",
            "postal_code": "LS1 4AP",
            "country": "GB",
        },
    )
    event = Event.objects.get(pk=int(created["event_id"]))
    assert event.title == "Leafleting the market" and event.area == areas.leeds_central
    assert timezone.localtime(event.starts_at).replace(tzinfo=None) == start
    assert event.address == "34 George St, Leeds"

    an.update_event(created["event_id"], {"title": "Market leafleting", "capacity": "1"})
    event.refresh_from_db()
    assert event.title == "Market leafleting" and event.capacity == 1

    fetched = an.get_event(created["event_id"])
    assert fetched["title"] == "Market leafleting" and fetched["capacity"] == 1
    an.create_event("Members' call", start_date=start + datetime.timedelta(days=1))
    assert sorted(row["title"] for row in an.get_events()) == ["Market leafleting", "Members' call"]
    assert [row["title"] for row in an.get_events(filter="title eq 'Members'' call'")] == [
        "Members' call"
    ]

    first = an.create_attendance(
        created["event_id"],
        {
            "person": json.dumps(
                {"given_name": "Ada", "email_addresses": [{"address": "ada@example.net"}]}
            )
        },
    )
    assert first["status"] == "accepted"
    ada = Person.objects.get(email="ada@example.net")
    assert ada.first_name == "Ada"
    # The event holds one: the next person waits.
    grace = factories.person(email="grace@example.net", first_name="Grace")
    second = an.create_attendance(
        created["event_id"],
        {"_links": json.dumps({"osdi:person": {"href": f"{an.api_url}/people/{grace.pk}"}})},
    )
    assert second["status"] == "tentative"
    assert Rsvp.objects.get(person=grace).status == Rsvp.Status.WAITLISTED

    rows = an.get_event_attendances(created["event_id"])
    assert sorted(row["action_network:person_id"] for row in rows) == sorted(
        [str(ada.pk), str(grace.pk)]
    )
    mine = an.get_person_attendances(ada.pk)
    assert [row["action_network:event_id"] for row in mine] == [created["event_id"]]

    # Parsons' own example payload arrives without the person (a query string keeps
    # only a nested object's keys): a clear 400, and nothing is recorded.
    with pytest.raises(HTTPError, match="400"):
        an.create_attendance(
            created["event_id"],
            {"_links": {"osdi:person": {"href": f"{an.api_url}/people/{ada.pk}"}}},
        )
    assert Rsvp.objects.count() == 2


def test_parsons_sees_scope_errors(live_server, organiser, areas, south_person):
    _key, token = api_key_create(owner=organiser, actor=organiser)
    an = connector(live_server, token)
    south = Event.objects.create(
        title="Easton doorstep",
        postcode="BS5 6XX",
        area=areas.bristol_east,
        starts_at=timezone.now() + datetime.timedelta(days=2),
        ends_at=timezone.now() + datetime.timedelta(days=2, hours=2),
    )
    with pytest.raises(HTTPError, match="404"):
        an.get_event(south.pk)
    with pytest.raises(HTTPError, match="404"):
        an.get_person_attendances(south_person.pk)
    assert an.get_events().num_rows == 0
