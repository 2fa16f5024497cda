"""The organiser dashboard: figures scoped to the viewer's area subtree."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clarion.core.testing import factories
from clarion.events.models import Event, Rsvp
from clarion.events.services import (
    RsvpInput,
    canvass_contact_record,
    checkin_mark,
    event_save,
    rsvp_create,
)
from clarion.people.models import Person, Segment


def _event(area, postcode, title, *, days=3, capacity=None):
    start = timezone.now() + datetime.timedelta(days=days)
    return event_save(
        event=Event(
            title=title,
            kind=Event.Kind.CANVASS,
            area=area,
            postcode=postcode,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            capacity=capacity,
        )
    )


def _stat(body: str, name: str) -> int:
    match = re.search(rf'data-stat="{name}">([\d,]+)<', body)
    assert match, f"no {name} figure"
    return int(match.group(1).replace(",", ""))


@pytest.fixture
def scene(areas):
    """North and South each with new supporters, a member who joined this week, an
    upcoming event with RSVPs, and a past event with a no-show."""
    week_old = timezone.now() - datetime.timedelta(days=20)
    old_north = factories.person(postcode="LS1 4AP", first_name="Olga", last_name="Oldnorth")
    Person.objects.filter(pk=old_north.pk).update(created_at=week_old)
    for n in range(2):
        factories.person(postcode="LS2 7EY", last_name=f"Newnorth{n}")
    for n in range(3):
        factories.person(postcode="BS5 6XX", last_name=f"Newsouth{n}")
    Person.objects.filter(last_name="Newnorth0").update(
        membership_status="active", joined_on=timezone.localdate()
    )
    Person.objects.filter(last_name__in=["Newsouth0", "Newsouth1"]).update(
        membership_status="active", joined_on=timezone.localdate()
    )

    north_event = _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep", capacity=1)
    south_event = _event(areas.bristol_east, "BS5 6XX", "Easton doorstep", capacity=5)
    rsvp_create(event=north_event, data=RsvpInput(email="a@example.net", postcode="LS1 4AP"))
    rsvp_create(event=north_event, data=RsvpInput(email="b@example.net", postcode="LS1 4AP"))
    for n in range(3):
        rsvp_create(
            event=south_event, data=RsvpInput(email=f"s{n}@example.net", postcode="BS5 6XX")
        )

    north_past = _event(areas.leeds_central, "LS1 4AP", "Last month's North stall")
    south_past = _event(areas.bristol_east, "BS5 6XX", "Last month's South stall")
    rsvp_create(
        event=north_past,
        data=RsvpInput(
            email="noshow.north@example.net",
            first_name="Nia",
            last_name="Noshownorth",
            postcode="LS2 7EY",
        ),
    )
    came = rsvp_create(
        event=north_past, data=RsvpInput(email="came@example.net", postcode="LS2 7EY")
    ).rsvp
    checkin_mark(rsvp=came, attendance=Rsvp.Attendance.ATTENDED)
    rsvp_create(
        event=south_past,
        data=RsvpInput(
            email="noshow.south@example.net",
            first_name="Sol",
            last_name="Noshowsouth",
            postcode="BS5 6XX",
        ),
    )
    rsvp_create(
        event=south_past, data=RsvpInput(email="noshow.south2@example.net", postcode="BS5 6XX")
    )
    past = timezone.now() - datetime.timedelta(days=30)
    Event.objects.filter(pk__in=[north_past.pk, south_past.pk]).update(
        starts_at=past, ends_at=past + datetime.timedelta(hours=2)
    )
    return {"north_event": north_event, "south_event": south_event}


def test_north_organiser_figures_exclude_south_people_and_events(client, organiser, scene):
    client.force_login(organiser)
    body = client.get(reverse("reports:dashboard")).content.decode()
    # New this week in the North: 2 factory people, a, b, noshow.north, came (Olga is old).
    assert _stat(body, "new-supporters") == 6
    assert _stat(body, "new-members") == 1
    assert _stat(body, "never-attended") == 1
    assert "City Ward doorstep" in body
    assert "Easton doorstep" not in body
    assert "Last month" not in body  # past events are not upcoming
    row = re.search(rf'<tr data-event="{scene["north_event"].pk}">.*?</tr>', body, re.S).group(0)
    assert 'data-stat="going">1<' in row and 'data-stat="waitlisted">1<' in row


def test_south_organiser_sees_south_figures(client, south_organiser, scene):
    client.force_login(south_organiser)
    body = client.get(reverse("reports:dashboard")).content.decode()
    assert _stat(body, "new-supporters") == 3 + 3 + 2
    assert _stat(body, "new-members") == 2
    assert _stat(body, "never-attended") == 2
    assert "Easton doorstep" in body and "City Ward doorstep" not in body


def test_admin_sees_the_nation_and_can_pick_an_area(client, admin, areas, scene):
    client.force_login(admin)
    body = client.get(reverse("reports:dashboard")).content.decode()
    assert _stat(body, "new-supporters") == 6 + 8
    assert _stat(body, "never-attended") == 3
    assert "City Ward doorstep" in body and "Easton doorstep" in body
    assert 'name="area"' in body
    picked = client.get(reverse("reports:dashboard"), {"area": areas.south.pk}).content.decode()
    assert "Organising in The South" in picked
    assert _stat(picked, "new-supporters") == 8
    assert _stat(picked, "never-attended") == 2
    assert "City Ward doorstep" not in picked


def test_organiser_cannot_pick_an_area_outside_their_scope(client, organiser, areas, scene):
    client.force_login(organiser)
    body = client.get(reverse("reports:dashboard"), {"area": areas.south.pk}).content.decode()
    assert "Organising in The North" in body
    assert "Easton doorstep" not in body
    assert _stat(body, "never-attended") == 1
    for junk in ("abc", "-1", "999999"):
        assert client.get(reverse("reports:dashboard"), {"area": junk}).status_code == 200


def test_never_attended_list_shows_only_scoped_no_shows(client, organiser, areas, scene):
    client.force_login(organiser)
    body = client.get(reverse("reports:never_attended")).content.decode()
    assert "Noshownorth" in body
    assert "Noshowsouth" not in body
    hostile = client.get(
        reverse("reports:never_attended"), {"area": areas.south.pk}
    ).content.decode()
    assert "Noshowsouth" not in hostile and "Noshownorth" in hostile


def test_email_area_opens_composer_with_area_segment(client, organiser, areas, scene):
    client.force_login(organiser)
    response = client.post(reverse("reports:email_area"), {"area": areas.leeds.pk})
    assert response.status_code == 302
    segment = Segment.objects.get(name="Everyone in Leeds Central")
    assert segment.owner_area == areas.north
    assert response["Location"] == reverse("mailings_staff:create") + f"?segment={segment.pk}"
    compose = client.get(response["Location"]).content.decode()
    assert re.search(rf'<option value="{segment.pk}" selected>Everyone in Leeds Central', compose)
    # Pressing it again reuses the segment.
    client.post(reverse("reports:email_area"), {"area": areas.leeds.pk})
    assert Segment.objects.filter(name="Everyone in Leeds Central").count() == 1


def test_email_area_refuses_an_area_outside_scope(client, organiser, areas):
    client.force_login(organiser)
    response = client.post(reverse("reports:email_area"), {"area": areas.south.pk})
    assert response.status_code == 404
    assert not Segment.objects.exists()


def test_analyst_cannot_start_a_mailing(client, analyst, areas):
    client.force_login(analyst)
    assert client.post(reverse("reports:email_area"), {}).status_code == 403


def test_home_links_to_the_dashboard_and_figures_are_cached_a_minute(client, organiser, scene):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(organiser)
    assert reverse("reports:dashboard") in client.get(reverse("reports:home")).content.decode()
    assert _stat(client.get(reverse("reports:dashboard")).content.decode(), "new-supporters") == 6
    factories.person(postcode="LS1 4AP", last_name="Latecomer")
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("reports:dashboard")).content.decode()
    assert not [q for q in queries.captured_queries if "people_person" in q["sql"]]
    assert _stat(body, "new-supporters") == 6


def test_canvass_totals_per_area_count_only_the_viewers_events(
    client, organiser, south_organiser, scene
):
    for outcome, level in (("spoke", 4), ("spoke", 5), ("not_home", None)):
        canvass_contact_record(
            event=scene["north_event"],
            first_name="N",
            email=f"n{outcome}{level}@example.net",
            outcome=outcome,
            support_level=level,
        )
    canvass_contact_record(
        event=scene["south_event"], first_name="S", email="s-door@example.net", outcome="refused"
    )
    client.force_login(organiser)
    body = client.get(reverse("reports:dashboard")).content.decode()
    assert _stat(body, "canvass-total") == 3
    assert _stat(body, "support-4") == 1 and _stat(body, "support-5") == 1
    south = Client()
    south.force_login(south_organiser)
    south_body = south.get(reverse("reports:dashboard")).content.decode()
    assert _stat(south_body, "canvass-total") == 1 and _stat(south_body, "support-4") == 0


def test_home_go_to_list_reaches_every_section(client, organiser):
    client.force_login(organiser)
    page = client.get(reverse("reports:home")).content.decode()
    go_to = page.split("Go to", 1)[1]
    for name in (
        "actions_staff:list",
        "mailings_staff:list",
        "events_staff:list",
        "journeys_staff:list",
        "qa_staff:list",
        "people:list",
        "reports:funnel",
        "donations_staff:list",
        "members_staff:overview",
    ):
        assert f'href="{reverse(name)}"' in go_to, name
