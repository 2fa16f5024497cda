"""Staff pages: scoped to the organiser's area subtree, attendees through people_for,
check-in on a phone with walk-ins, canvass results, and the approval queue."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clarion.core.testing import factories
from clarion.events.models import CanvassResult, Event, Rsvp
from clarion.events.services import RsvpInput, rsvp_create
from clarion.people.models import Activity, Person

from .conftest import make_event

pytestmark = pytest.mark.django_db


def _dt(days: int) -> str:
    return (timezone.localtime() + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def event_form(**overrides) -> dict:
    data = {
        "kind": "canvass",
        "title": "Saturday canvass",
        "description": "Bring *water*.",
        "venue": "Hall",
        "address": "1 High St",
        "postcode": "LS1 4AP",
        "starts_at": _dt(5),
        "ends_at": _dt(5)[:-5] + "23:59",
        "capacity": "20",
        "visibility": "public",
        "status": "published",
        "reminder_hours": "24,2",
        "follow_up": "",
    }
    data.update(overrides)
    return data


def test_organiser_creates_an_event_in_their_area_only(organiser_client, areas):
    response = organiser_client.post("/staff/events/new/", event_form(area=areas.leeds_central.pk))
    assert response.status_code == 302
    event = Event.objects.get()
    assert (event.area, event.latitude is not None) == (areas.leeds_central, True)
    refused = organiser_client.post(
        "/staff/events/new/", event_form(area=areas.bristol_east.pk, title="Sneaky")
    )
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    bad = organiser_client.post(
        "/staff/events/new/",
        event_form(area=areas.north.pk, postcode="LS99 9ZZ", reminder_hours="soon"),
    )
    assert bad.status_code == 400
    assert "We don&#x27;t know that postcode." in bad.content.decode()
    assert "Give whole hours" in bad.content.decode()
    assert Event.objects.count() == 1


def test_organiser_sees_and_edits_only_their_subtree_events(organiser_client, areas):
    north = make_event(area=areas.leeds_central, title="North canvass")
    south = make_event(area=areas.bristol_east, postcode="BS5 6XX", title="South canvass")
    listing = organiser_client.get("/staff/events/").content.decode()
    assert "North canvass" in listing and "South canvass" not in listing
    for name in ("detail", "edit", "checkin", "canvass"):
        assert (
            organiser_client.get(
                reverse(f"events_staff:{name}", kwargs={"pk": south.pk})
            ).status_code
            == 404
        )
    assert (
        organiser_client.post(
            reverse("events_staff:edit", kwargs={"pk": south.pk}),
            event_form(area=areas.bristol_east.pk),
        ).status_code
        == 404
    )
    assert (
        organiser_client.get(reverse("events_staff:edit", kwargs={"pk": north.pk})).status_code
        == 200
    )


def test_analyst_cannot_write(client, analyst, areas):
    event = make_event(area=areas.leeds_central)
    client.force_login(analyst)
    assert client.get("/staff/events/new/").status_code == 403
    assert (
        client.post(
            reverse("events_staff:walkin", kwargs={"pk": event.pk}),
            {"first_name": "X", "email": "x@example.net"},
        ).status_code
        == 403
    )


def test_attendee_list_hides_people_outside_the_organisers_area(
    organiser_client, areas, north_person, south_person
):
    event = make_event(area=areas.leeds_central)
    rsvp_create(event=event, data=RsvpInput(email=north_person.email))
    rsvp_create(event=event, data=RsvpInput(email=south_person.email))
    html = organiser_client.get(
        reverse("events_staff:detail", kwargs={"pk": event.pk})
    ).content.decode()
    assert "Nora" in html and "South" not in html.replace("The South", "")
    assert "1 more person from outside your area is coming." in html
    checkin = organiser_client.get(
        reverse("events_staff:checkin", kwargs={"pk": event.pk})
    ).content.decode()
    assert "Nora" in checkin and "Sid" not in checkin
    south_rsvp = Rsvp.objects.get(person=south_person)
    refused = organiser_client.post(
        reverse("events_staff:attendance", kwargs={"pk": event.pk, "rsvp_id": south_rsvp.pk}),
        {"attendance": "attended"},
    )
    assert refused.status_code == 404
    south_rsvp.refresh_from_db()
    assert south_rsvp.attendance == Rsvp.Attendance.UNKNOWN


def test_check_in_and_walk_in_on_a_phone(organiser_client, areas, north_person):
    event = make_event(area=areas.leeds_central)
    rsvp = rsvp_create(event=event, data=RsvpInput(email=north_person.email)).rsvp
    url = reverse("events_staff:attendance", kwargs={"pk": event.pk, "rsvp_id": rsvp.pk})
    assert organiser_client.post(url, {"attendance": "attended"}).status_code == 302
    rsvp.refresh_from_db()
    assert rsvp.attendance == Rsvp.Attendance.ATTENDED
    assert Activity.objects.filter(person=north_person, summary__startswith="Attended").exists()
    walkin = organiser_client.post(
        reverse("events_staff:walkin", kwargs={"pk": event.pk}),
        {"first_name": "Wally", "email": "wally@example.net", "postcode": "LS2 7EY"},
    )
    assert walkin.status_code == 302
    wally = Rsvp.objects.get(person__email="wally@example.net")
    assert wally.walk_in and wally.attendance == Rsvp.Attendance.ATTENDED
    page = organiser_client.get(
        reverse("events_staff:checkin", kwargs={"pk": event.pk})
    ).content.decode()
    assert "Wally" in page and "Walk-in" in page
    missing = organiser_client.post(
        reverse("events_staff:walkin", kwargs={"pk": event.pk}), {"first_name": "Nobody"}
    )
    assert missing.status_code == 400
    assert "Give an email address or a phone number." in missing.content.decode()


def test_canvass_results_go_on_the_timeline_and_are_totalled(
    organiser_client, areas, north_person, south_person
):
    event = make_event(area=areas.leeds_central)
    url = reverse("events_staff:canvass", kwargs={"pk": event.pk})
    assert (
        organiser_client.post(
            url, {"person": north_person.pk, "outcome": "spoke", "support_level": "4"}
        ).status_code
        == 302
    )
    organiser_client.post(
        url, {"person": north_person.pk, "outcome": "not_home", "support_level": ""}
    )
    assert (
        organiser_client.post(url, {"person": south_person.pk, "outcome": "spoke"}).status_code
        == 404
    )
    assert CanvassResult.objects.count() == 2
    assert Activity.objects.filter(person=north_person, summary__contains="support 4/5").exists()
    html = organiser_client.get(url).content.decode()
    assert "2 contacts" in html
    timeline = organiser_client.get(
        reverse("people:detail", kwargs={"person_id": north_person.pk})
    ).content.decode()
    assert "Canvassed at" in timeline


def test_member_proposal_waits_for_approval_then_the_host_gets_their_link(client, organiser, areas):
    data = event_form(host_first_name="Mo", host_email="mo@example.net", title="Street stall")
    response = client.post("/events/propose/", data)
    assert (
        response.status_code == 200
        and "An organiser will look at it soon" in response.content.decode()
    )
    event = Event.objects.get()
    assert event.status == Event.Status.PROPOSED and event.host_person.email == "mo@example.net"
    assert client.get(f"/events/{event.pk}/").status_code == 404  # not public yet
    south_org = Client()
    south_org.force_login(factories.staff_user(role="organiser", area=areas.south))
    assert "Street stall" not in south_org.get("/staff/events/approvals/").content.decode()
    assert (
        south_org.post(reverse("events_staff:approve", kwargs={"pk": event.pk})).status_code == 404
    )
    staff = Client()
    staff.force_login(organiser)
    assert "Street stall" in staff.get("/staff/events/approvals/").content.decode()
    staff.post(reverse("events_staff:approve", kwargs={"pk": event.pk}))
    event.refresh_from_db()
    assert event.status == Event.Status.PUBLISHED
    assert client.get(f"/events/{event.pk}/").status_code == 200


def test_a_new_member_proposing_gives_their_postcode_so_their_organiser_can_reach_them(
    client, organiser, areas
):
    data = event_form(
        host_first_name="Mo", host_email="mo.new@example.net", host_postcode="LS1 4AP"
    )
    assert client.post("/events/propose/", data).status_code == 200
    host = Person.objects.get(email="mo.new@example.net")
    assert host.area == areas.leeds_central
    staff = Client()
    staff.force_login(organiser)
    assert staff.get(reverse("people:detail", kwargs={"person_id": host.pk})).status_code == 200


def test_a_bad_host_postcode_is_a_form_error_and_nothing_is_saved(client, areas):
    data = event_form(
        host_first_name="Mo", host_email="mo.new@example.net", host_postcode="NOT A CODE"
    )
    response = client.post("/events/propose/", data)
    assert response.status_code == 400
    assert response.context["form"].errors.get("host_postcode")
    assert not response.context["form"].errors.get("postcode")
    assert (
        not Event.objects.exists()
        and not Person.objects.filter(email="mo.new@example.net").exists()
    )


def test_decline_with_a_message(organiser_client, areas):
    client = Client()
    client.post("/events/propose/", event_form(host_first_name="Mo", host_email="mo@example.net"))
    event = Event.objects.get()
    url = reverse("events_staff:decline", kwargs={"pk": event.pk})
    organiser_client.post(url, {"message": ""})
    event.refresh_from_db()
    assert event.status == Event.Status.PROPOSED
    organiser_client.post(url, {"message": "Please pick a weekday."})
    event.refresh_from_db()
    assert (event.status, event.decline_message) == (
        Event.Status.DECLINED,
        "Please pick a weekday.",
    )


def test_area_policy_can_publish_member_events_straight_away(client, areas):
    from clarion.events.models import AreaEventPolicy

    AreaEventPolicy.objects.create(area=areas.north, approval_required=False)
    client.post("/events/propose/", event_form(host_first_name="Mo", host_email="mo@example.net"))
    assert Event.objects.get().status == Event.Status.PUBLISHED


def test_host_link_gives_check_in_without_login(client, areas):
    from clarion.events.selectors import host_token

    client.post("/events/propose/", event_form(host_first_name="Mo", host_email="mo@example.net"))
    event = Event.objects.get()
    event.status = Event.Status.PUBLISHED
    event.save()
    rsvp = rsvp_create(
        event=event, data=RsvpInput(email="guest@example.net", first_name="Gus")
    ).rsvp
    token = host_token(event)
    page = client.get(reverse("events:host", kwargs={"pk": event.pk, "token": token}))
    assert page.status_code == 200 and "Gus" in page.content.decode()
    client.post(
        reverse("events:host_checkin", kwargs={"pk": event.pk, "token": token, "rsvp_id": rsvp.pk}),
        {"attendance": "no_show"},
    )
    rsvp.refresh_from_db()
    assert rsvp.attendance == Rsvp.Attendance.NO_SHOW
    other = make_event(
        area=areas.leeds_central, host_person=Person.objects.get(email="mo@example.net")
    )
    assert (
        client.get(reverse("events:host", kwargs={"pk": other.pk, "token": token})).status_code
        == 404
    )
    assert (
        client.get(
            reverse("events:host", kwargs={"pk": event.pk, "token": "forged:token"})
        ).status_code
        == 404
    )
    walkin = client.post(
        reverse("events:host_walkin", kwargs={"pk": event.pk, "token": token}),
        {"first_name": "Wendy", "phone": "07911 123456"},
    )
    assert walkin.status_code == 302, walkin.content.decode()[-1500:]
    assert Rsvp.objects.filter(event=event, walk_in=True, attendance="attended").count() == 1


def test_every_staff_url_refuses_another_areas_event(client, areas, south_person):
    """A quick local version of the project's scope walk for this app's URLs."""
    south = make_event(area=areas.bristol_east, postcode="BS5 6XX", title="South secret")
    rsvp = rsvp_create(event=south, data=RsvpInput(email=south_person.email)).rsvp
    client.force_login(factories.staff_user(role="organiser", area=areas.north))
    kwargs = {"pk": south.pk}
    for name in ("detail", "edit", "checkin", "walkin", "canvass", "approve", "decline"):
        url = reverse(f"events_staff:{name}", kwargs=kwargs)
        assert client.get(url).status_code in (404, 405)
        assert (
            client.post(
                url,
                {
                    "person": south_person.pk,
                    "message": "x",
                    "first_name": "x",
                    "email": "x@example.net",
                    "outcome": "spoke",
                },
            ).status_code
            == 404
        )
    url = reverse("events_staff:attendance", kwargs={"pk": south.pk, "rsvp_id": rsvp.pk})
    assert client.post(url, {"attendance": "attended"}).status_code == 404
    for name in ("list", "approvals"):
        assert "South secret" not in client.get(reverse(f"events_staff:{name}")).content.decode()


def test_raising_capacity_through_event_save_promotes_the_waiting_list(areas):
    """The service compares with the stored capacity, so every caller promotes."""
    from clarion.events.services import event_save

    event = make_event(area=areas.leeds_central, capacity=1)
    rsvp_create(event=event, data=RsvpInput(email="a@example.net"))
    b = rsvp_create(event=event, data=RsvpInput(email="b@example.net")).rsvp
    c = rsvp_create(event=event, data=RsvpInput(email="c@example.net")).rsvp
    same = Event.objects.get(pk=event.pk)
    same.title = "Renamed"
    event_save(event=same)
    assert Rsvp.objects.filter(status=Rsvp.Status.WAITLISTED).count() == 2
    lower = Event.objects.get(pk=event.pk)
    lower.capacity = 1
    event_save(event=lower)
    raised = Event.objects.get(pk=event.pk)
    raised.capacity = 2
    event_save(event=raised)
    b.refresh_from_db()
    c.refresh_from_db()
    assert (b.status, c.status) == (Rsvp.Status.GOING, Rsvp.Status.WAITLISTED)
    assert Activity.objects.filter(person=b.person, summary__startswith="Got a place").exists()
    unlimited = Event.objects.get(pk=event.pk)
    unlimited.capacity = None
    event_save(event=unlimited)
    c.refresh_from_db()
    assert c.status == Rsvp.Status.GOING


def test_staff_edit_raising_capacity_promotes(organiser_client, areas):
    event = make_event(area=areas.leeds_central, capacity=1)
    rsvp_create(event=event, data=RsvpInput(email="a@example.net"))
    waiting = rsvp_create(event=event, data=RsvpInput(email="b@example.net")).rsvp
    response = organiser_client.post(
        reverse("events_staff:edit", kwargs={"pk": event.pk}),
        event_form(area=areas.leeds_central.pk, capacity="2"),
    )
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == Rsvp.Status.GOING


def test_create_and_edit_share_their_error_handling(organiser_client, areas):
    bad = event_form(area=areas.leeds_central.pk, postcode="", kind="canvass", online_url="")
    created = organiser_client.post("/staff/events/new/", bad)
    assert created.status_code == 400
    assert "Give the venue" in created.content.decode()
    assert not Event.objects.exists()
    event = make_event(area=areas.leeds_central)
    edited = organiser_client.post(reverse("events_staff:edit", kwargs={"pk": event.pk}), bad)
    assert edited.status_code == 400
    assert "Give the venue" in edited.content.decode()
    event.refresh_from_db()
    assert event.postcode == "LS1 4AP"
