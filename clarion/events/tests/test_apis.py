"""The events part of the Action Network–compatible API: events, attendances and the
record attendance helper, over HTTP as a script would use them."""

from __future__ import annotations

import datetime
import json
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from clarion.api.models import ApiKey
from clarion.api.tests.conftest import make_api
from clarion.events.apis import attendance_document, event_document
from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, rsvp_create
from clarion.people.models import Person, Tag

from .conftest import make_event

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


def _when(days: int = 5) -> str:
    start = (timezone.now() + datetime.timedelta(days=days)).replace(microsecond=0, second=0)
    return start.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _attend(api, event, email, **extra):
    return api.post(
        f"events/{event.pk}/attendances",
        {"person": {"email_addresses": [{"address": email}], **extra}},
    )


# --- Events ------------------------------------------------------------------------


def test_an_event_created_through_the_api_is_placed_by_postcode_and_listed(admin_api, areas):
    start = _when()
    response = admin_api.post(
        "events",
        {
            "title": "Leafleting the market",
            "description": "Bring *comfy* shoes.",
            "start_date": start,
            "capacity": 12,
            "location": {
                "venue": "Kirkgate Market",
                "address_lines": ["34 George St"],
                "postal_code": "ls1 4ap",
                "country": "GB",
            },
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    event = Event.objects.get(pk=_id(body))
    assert event.area == areas.leeds_central and event.postcode == "LS1 4AP"
    assert event.ends_at - event.starts_at == datetime.timedelta(hours=2)
    assert body["title"] == "Leafleting the market" and body["status"] == "confirmed"
    assert body["start_date"] == start and body["capacity"] == 12 and body["total_accepted"] == 0
    assert "<em>comfy</em>" in body["description"]
    assert body["location"]["venue"] == "Kirkgate Market"
    assert body["location"]["postal_code"] == "LS1 4AP"
    assert body["browser_url"] == f"http://testserver/events/{event.pk}/"
    assert body["_links"]["osdi:attendances"]["href"] == (
        f"http://testserver/api/v2/events/{event.pk}/attendances"
    )
    listed = admin_api.get("events").json()
    assert [_id(e) for e in listed["_embedded"]["osdi:events"]] == [event.pk]
    assert admin_api.get(f"events/{event.pk}").json()["title"] == "Leafleting the market"


def test_an_event_with_no_place_is_held_online(admin_api):
    response = admin_api.post(
        "events", {"title": "Members' call", "start_date": "2030-05-01 19:00:00"}
    )
    assert response.status_code == 201
    event = Event.objects.get(pk=_id(response.json()))
    assert event.kind == Event.Kind.ONLINE
    # A time without a zone is the organisation's (London, summer time in May).
    assert response.json()["start_date"] == "2030-05-01T18:00:00Z"


def test_updating_an_event_changes_only_what_is_sent(admin_api, areas):
    event = make_event(area=areas.leeds_central, capacity=5, title="Old title")
    response = admin_api.put(f"events/{event.pk}", {"title": "New title", "visibility": "private"})
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.title == "New title" and event.visibility == Event.Visibility.UNLISTED
    assert event.capacity == 5 and event.postcode == "LS1 4AP"
    assert response.json()["visibility"] == "private"


def test_raising_capacity_through_the_api_gives_places_to_the_waiting_list(admin_api, areas):
    event = make_event(area=areas.leeds_central, capacity=1)
    assert _attend(admin_api, event, "first@example.net").json()["status"] == "accepted"
    waiting = _attend(admin_api, event, "second@example.net").json()
    assert waiting["status"] == "tentative" and waiting["clarion:rsvp_status"] == "waitlisted"
    admin_api.put(f"events/{event.pk}", {"capacity": 2})
    assert Rsvp.objects.get(pk=_id(waiting)).status == Rsvp.Status.GOING


def test_events_filter_and_paging(admin_api, areas):
    for n in range(3):
        make_event(area=areas.leeds_central, title=f"Canvass {n}", days=n + 1)
    page = admin_api.get("events", per_page=2).json()
    assert page["total_records"] == 3 and page["total_pages"] == 2
    assert "next" in page["_links"] and len(page["_embedded"]["osdi:events"]) == 2
    second = admin_api.get("events", per_page=2, page=2).json()
    assert len(second["_embedded"]["osdi:events"]) == 1
    seen = {
        e["title"] for e in page["_embedded"]["osdi:events"] + second["_embedded"]["osdi:events"]
    }
    assert seen == {"Canvass 0", "Canvass 1", "Canvass 2"}
    only = admin_api.get("events", filter="title eq 'canvass 1'").json()
    assert [e["title"] for e in only["_embedded"]["osdi:events"]] == ["Canvass 1"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"start_date": "2030-01-01T10:00:00Z"}, "title"),
        ({"title": "No time"}, "start_date"),
        ({"title": "Bad time", "start_date": "next tuesday"}, "start_date"),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "capacity": -3}, "capacity"),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "colour": "red"}, "colour"),
        (
            {
                "title": "X",
                "start_date": "2030-01-01T10:00:00Z",
                "location": {"postal_code": "ZZ9 9ZZ"},
            },
            "postcode",
        ),
        (
            {
                "title": "X",
                "start_date": "2030-01-01T10:00:00Z",
                "end_date": "2029-01-01T10:00:00Z",
            },
            "end",
        ),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "location": {"country": "US"}}, "GB"),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "status": ["confirmed"]}, "status"),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "capacity": 10**12}, "capacity"),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "capacity": "²"}, "capacity"),
        ({"title": "X", "start_date": "0001-01-01T00:00:00+14:00"}, "start_date"),
        ({"title": "X", "start_date": 20300101}, "start_date"),
        ({"title": "X", "start_date": "2030-01-01T10:00:00Z", "location": "LS1 4AP"}, "location"),
    ],
)
def test_bad_event_input_is_a_400_with_a_message(admin_api, payload, message):
    response = admin_api.post("events", payload)
    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not Event.objects.exists()


def test_filter_errors_and_unknown_ids_are_json(admin_api):
    assert admin_api.get("events", filter="colour eq 'red'").status_code == 400
    missing = admin_api.get("events/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["error"]
    assert admin_api.get("events/abc/attendances").status_code == 404


def test_a_read_only_key_cannot_create(client, admin):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    response = api.post("events", {"title": "X", "start_date": "2030-01-01T10:00:00Z"})
    assert response.status_code == 403 and "read only" in response.json()["error"]


# --- Attendances ------------------------------------------------------------------


def test_record_attendance_helper_creates_the_person_and_rsvp(admin_api, areas):
    event = make_event(area=areas.leeds_central, capacity=10)
    response = admin_api.post(
        f"events/{event.pk}/attendances",
        {
            "person": {
                "given_name": "Ada",
                "family_name": "Lovelace",
                "email_addresses": [{"address": "ada@example.net"}],
                "postal_addresses": [{"postal_code": "LS2 7EY"}],
            },
            "add_tags": ["Canvasser"],
            "action_network:referrer_data": {"source": "email-42"},
            "clarion:guests": 1,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    person = Person.objects.get(email="ada@example.net")
    rsvp = Rsvp.objects.get(pk=_id(body))
    assert rsvp.person == person and rsvp.event == event and rsvp.guests == 1
    assert rsvp.status == Rsvp.Status.GOING and rsvp.source == "email-42"
    assert person.last_name == "Lovelace" and person.area == areas.leeds_central
    assert Tag.objects.get(name="Canvasser").taggings.filter(person=person).exists()
    assert body["status"] == "accepted"
    assert body["action_network:person_id"] == str(person.pk)
    assert body["_links"]["osdi:person"]["href"] == f"http://testserver/api/v2/people/{person.pk}"
    assert body["_links"]["osdi:event"]["href"] == f"http://testserver/api/v2/events/{event.pk}"

    again = _attend(admin_api, event, "ADA@example.net")
    assert again.status_code == 200 and _id(again.json()) == rsvp.pk
    assert Rsvp.objects.filter(event=event).count() == 1
    assert admin_api.get(f"events/{event.pk}").json()["total_accepted"] == 1


def test_an_existing_person_can_be_linked(admin_api, areas, north_person):
    event = make_event(area=areas.leeds_central)
    response = admin_api.post(
        f"events/{event.pk}/attendances",
        {"_links": {"osdi:person": {"href": f"http://testserver/api/v2/people/{north_person.pk}"}}},
    )
    assert response.status_code == 201
    assert Rsvp.objects.get(event=event).person == north_person


def test_a_full_event_waitlists_and_a_declined_place_goes_to_the_next(admin_api, areas):
    event = make_event(area=areas.leeds_central, capacity=2)
    first = _attend(admin_api, event, "one@example.net").json()
    second = _attend(admin_api, event, "two@example.net").json()
    third = _attend(admin_api, event, "three@example.net").json()
    assert [first["status"], second["status"], third["status"]] == [
        "accepted",
        "accepted",
        "tentative",
    ]
    assert admin_api.get(f"events/{event.pk}").json()["clarion:waitlisted"] == 1

    declined = admin_api.put(f"events/{event.pk}/attendances/{_id(first)}", {"status": "declined"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    promoted = admin_api.get(f"events/{event.pk}/attendances/{_id(third)}").json()
    assert promoted["status"] == "accepted"


def test_attendance_payload_in_the_query_string_needs_json_text(admin_api, areas, client):
    """Parsons 6.1.0 posts attendances as query parameters with no body."""
    event = make_event(area=areas.leeds_central)
    person = urlencode({"person": json.dumps({"email_addresses": [{"address": "q@example.net"}]})})
    ok = client.post(
        f"/api/v2/events/{event.pk}/attendances?{person}",
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert ok.status_code == 201, ok.content
    assert Rsvp.objects.filter(event=event, person__email="q@example.net").exists()
    # What requests makes of a nested object: only its keys.
    lossy = client.post(
        f"/api/v2/events/{event.pk}/attendances?_links=osdi:person",
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert lossy.status_code == 400 and "JSON text" in lossy.json()["error"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({}, 400, "person"),
        ({"person": {"phone_numbers": [{"number": "+447911123456"}]}}, 400, "email"),
        ({"person": {"email_addresses": [{"address": "not-an-email"}]}}, 400, "email"),
        ({"person": "ada@example.net"}, 400, "person"),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "clarion:guests": 50},
            400,
            "guests",
        ),
        (
            {"_links": {"osdi:person": {"href": "http://testserver/api/v2/people/999999"}}},
            404,
            "person",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "tickets": []},
            400,
            "tickets",
        ),
    ],
)
def test_bad_attendance_input_is_refused_with_json(admin_api, areas, payload, status, message):
    event = make_event(area=areas.leeds_central)
    response = admin_api.post(f"events/{event.pk}/attendances", payload)
    assert response.status_code == status
    assert message in json.dumps(response.json()).lower()
    assert not Rsvp.objects.exists() and not Person.objects.exists()


def test_a_past_event_takes_no_attendances_and_nothing_is_kept(admin_api, areas):
    start = timezone.now() - datetime.timedelta(days=3)
    event = make_event(
        area=areas.leeds_central, starts_at=start, ends_at=start + datetime.timedelta(hours=1)
    )
    response = _attend(admin_api, event, "late@example.net")
    assert response.status_code == 400 and "not taking RSVPs" in response.json()["error"]
    assert not Person.objects.filter(email="late@example.net").exists()


def test_attendances_page_for_an_event_and_for_a_person(admin_api, areas, north_person):
    event = make_event(area=areas.leeds_central)
    other = make_event(area=areas.leeds_central, title="Second", days=4)
    for n in range(3):
        _attend(admin_api, event, f"p{n}@example.net")
    rsvp_create(event=other, data=RsvpInput(email=north_person.email))
    rsvp_create(event=event, data=RsvpInput(email=north_person.email))
    first = admin_api.get(f"events/{event.pk}/attendances", per_page=3).json()
    assert first["total_records"] == 4 and first["total_pages"] == 2
    second = admin_api.get(f"events/{event.pk}/attendances", per_page=3, page=2).json()
    ids = [
        _id(a)
        for a in first["_embedded"]["osdi:attendances"] + second["_embedded"]["osdi:attendances"]
    ]
    assert sorted(ids) == sorted(Rsvp.objects.filter(event=event).values_list("pk", flat=True))

    mine = admin_api.get(f"people/{north_person.pk}/attendances").json()
    assert {a["action_network:event_id"] for a in mine["_embedded"]["osdi:attendances"]} == {
        str(event.pk),
        str(other.pk),
    }
    one = mine["_embedded"]["osdi:attendances"][0]
    assert admin_api.get(f"people/{north_person.pk}/attendances/{_id(one)}").status_code == 200


# --- Scope (invariant 4) ----------------------------------------------------------


def test_an_organisers_key_reaches_only_their_areas_events_and_people(
    north_api, areas, north_person, south_person
):
    north_event = make_event(area=areas.leeds_central)
    south_event = make_event(area=areas.bristol_east, postcode="BS5 6XX", title="Easton")
    rsvp_create(event=north_event, data=RsvpInput(email=north_person.email))
    south_rsvp = rsvp_create(event=north_event, data=RsvpInput(email=south_person.email)).rsvp

    listed = north_api.get("events").json()
    assert [_id(e) for e in listed["_embedded"]["osdi:events"]] == [north_event.pk]
    assert north_api.get(f"events/{south_event.pk}").status_code == 404
    assert north_api.get(f"events/{south_event.pk}/attendances").status_code == 404
    attendances = north_api.get(f"events/{north_event.pk}/attendances").json()
    assert [
        a["action_network:person_id"] for a in attendances["_embedded"]["osdi:attendances"]
    ] == [str(north_person.pk)]
    assert "sid@example.net" not in json.dumps(attendances)
    assert north_api.get(f"events/{north_event.pk}/attendances/{south_rsvp.pk}").status_code == 404
    assert north_api.get(f"people/{south_person.pk}/attendances").status_code == 404
    put = north_api.put(
        f"events/{north_event.pk}/attendances/{south_rsvp.pk}", {"status": "declined"}
    )
    assert put.status_code == 404
    assert Rsvp.objects.get(pk=south_rsvp.pk).status == Rsvp.Status.GOING


def test_an_area_key_cannot_rsvp_a_person_outside_its_area(client, admin, areas, south_person):
    api = make_api(client, admin, area=areas.north)
    event = make_event(area=areas.leeds_central)
    response = _attend(api, event, south_person.email, given_name="Changed")
    assert response.status_code == 403
    assert not Rsvp.objects.exists()
    south_person.refresh_from_db()
    assert south_person.first_name == "Sid"


def test_an_area_key_cannot_put_an_event_outside_its_area(client, admin, areas):
    api = make_api(client, admin, area=areas.north)
    response = api.post(
        "events", {"title": "Easton", "start_date": _when(), "location": {"postal_code": "BS5 6XX"}}
    )
    assert response.status_code == 403
    assert not Event.objects.exists()
    online = api.post("events", {"title": "Call", "start_date": _when()})
    assert online.status_code == 201
    assert Event.objects.get(pk=_id(online.json())).area == areas.north


def test_a_key_limited_to_tags_cannot_use_events(client, admin, areas):
    api = make_api(client, admin, resources=["tags"])
    assert api.get("events").status_code == 403


# --- Documents for webhooks ----------------------------------------------------------


def test_documents_without_a_request_link_to_the_site(settings, areas, north_person):
    settings.SITE_URL = "https://campaign.example.org"
    event = make_event(area=areas.leeds_central, capacity=3)
    rsvp = rsvp_create(event=event, data=RsvpInput(email=north_person.email)).rsvp
    doc = event_document(None, event)
    assert doc["_links"]["self"]["href"] == f"https://campaign.example.org/api/v2/events/{event.pk}"
    assert doc["browser_url"] == f"https://campaign.example.org/events/{event.pk}/"
    assert doc["total_accepted"] == 1
    att = attendance_document(None, rsvp)
    assert att["_links"]["osdi:person"]["href"] == (
        f"https://campaign.example.org/api/v2/people/{north_person.pk}"
    )
    assert att["identifiers"] == [f"clarion:{rsvp.pk}", f"action_network:{rsvp.pk}"]
    assert att["status"] == "accepted"


# --- Background processing ----------------------------------------------------------
# The worker checks its connection as a process does, which needs real transactions.


@pytest.mark.django_db(transaction=True)
def test_background_attendance_is_answered_at_once_and_recorded_by_the_worker(
    admin_api, areas, django_capture_on_commit_callbacks
):
    from clarion.mailings.tests.helpers import run_tasks

    event = make_event(area=areas.leeds_central, capacity=1)
    rsvp_create(event=event, data=RsvpInput(email="first@example.net"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            f"events/{event.pk}/attendances?background_processing=true",
            {"person": {"email_addresses": [{"address": "later@example.net"}]}},
        )
    assert response.status_code == 200 and response.json() == {}
    assert not Person.objects.filter(email="later@example.net").exists()
    run_tasks(django_capture_on_commit_callbacks)
    # Capacity holds in the worker too: the one place was taken.
    assert Rsvp.objects.get(person__email="later@example.net").status == Rsvp.Status.WAITLISTED


@pytest.mark.django_db(transaction=True)
def test_background_attendance_outside_an_area_key_is_rejected_in_the_worker(
    client, admin, areas, south_person, django_capture_on_commit_callbacks
):
    from clarion.mailings.tests.helpers import run_tasks

    api = make_api(client, admin, area=areas.north)
    event = make_event(area=areas.leeds_central)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"events/{event.pk}/attendances?background_processing=true",
            {"person": {"email_addresses": [{"address": south_person.email}]}},
        )
    assert response.status_code == 200
    run_tasks(django_capture_on_commit_callbacks)
    assert not Rsvp.objects.exists()


# --- Capacity under concurrent requests -----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_api_attendances_never_exceed_capacity(live_server, admin, areas):
    """Eight clients record attendances at once over HTTP; the event holds three."""
    import threading

    import requests

    from clarion.api.services import api_key_create

    _key, token = api_key_create(owner=admin, actor=admin)
    event = make_event(area=areas.leeds_central, capacity=3)
    url = f"{live_server.url}/api/v2/events/{event.pk}/attendances"
    barrier = threading.Barrier(8)
    answers: list[tuple[int, str]] = []

    def attend(n: int) -> None:
        barrier.wait(timeout=10)
        response = requests.post(
            url,
            json={"person": {"email_addresses": [{"address": f"racer{n}@example.net"}]}},
            headers={"OSDI-API-Token": token},
            timeout=60,
        )
        answers.append((response.status_code, response.json().get("status", "")))

    threads = [threading.Thread(target=attend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert sorted(answers) == [(201, "accepted")] * 3 + [(201, "tentative")] * 5
    assert Rsvp.objects.filter(event=event, status=Rsvp.Status.GOING).count() == 3
