"""Exporting an event's RSVPs and making a segment of them: scope (an organiser gets
only their area's people, even when people from elsewhere RSVP'd to their event; a
national event stays with national staff), roles, CSV content, spreadsheet-formula
safety, the audit entry, and segment count = export rows."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.events.models import Rsvp
from clarion.events.tests.conftest import make_event
from clarion.people.models import Segment
from clarion.people.segments.selectors import segment_count

G, W, C = Rsvp.Status.GOING, Rsvp.Status.WAITLISTED, Rsvp.Status.CANCELLED
ATT, UNK = Rsvp.Attendance.ATTENDED, Rsvp.Attendance.UNKNOWN


def _rsvp(event, person, status=G, attendance=UNK) -> Rsvp:
    return Rsvp.objects.create(event=event, person=person, status=status, attendance=attendance)


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def north_event(areas):
    """A North event: North people going, waiting and attended, and a South person."""
    event = make_event(area=areas.leeds_central, capacity=10)
    north = areas.postcodes["north"]
    _rsvp(event, factories.person(first_name="Nora", postcode=north), attendance=ATT)
    _rsvp(event, factories.person(first_name="Ned", postcode=north), status=W)
    _rsvp(event, factories.person(first_name="Nell", postcode=north))
    _rsvp(event, factories.person(first_name="Sid", postcode=areas.postcodes["south"]))
    return event


def _url(name, event):
    return reverse(f"events_staff:{name}", args=[event.pk])


def test_north_organiser_exports_only_north_rsvps(client, organiser, north_event):
    client.force_login(organiser)
    rows = {r["first_name"]: r for r in _rows(client.get(_url("export", north_event)))}
    assert sorted(rows) == ["Ned", "Nell", "Nora"]
    assert rows["Nora"]["status"] == "going" and rows["Nora"]["attended"] == "yes"
    assert rows["Ned"]["status"] == "waiting" and rows["Ned"]["attended"] == "no"
    assert rows["Nell"]["email"].endswith("@example.net")
    assert rows["Nell"]["rsvp_at"]


def test_admin_exports_every_rsvp_including_cancelled(client, admin, north_event, areas):
    _rsvp(north_event, factories.person(first_name="Cal", postcode=areas.postcodes["north"]), C)
    client.force_login(admin)
    rows = {r["first_name"]: r for r in _rows(client.get(_url("export", north_event)))}
    assert sorted(rows) == ["Cal", "Ned", "Nell", "Nora", "Sid"]
    assert rows["Cal"]["status"] == "cancelled"


def test_south_organiser_cannot_export_a_north_event(client, south_organiser, north_event):
    client.force_login(south_organiser)
    assert client.get(_url("export", north_event)).status_code == 404
    assert client.post(_url("segment", north_event)).status_code == 404
    assert not Segment.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_a_national_event_is_not_exported_to_an_organiser(client, organiser, areas):
    event = make_event(area=None, postcode="", kind="online", online_url="https://example.org/call")
    _rsvp(event, factories.person(postcode=areas.postcodes["north"]))
    client.force_login(organiser)
    assert client.get(_url("detail", event)).status_code == 404
    assert client.get(_url("export", event)).status_code == 404
    assert client.post(_url("segment", event)).status_code == 404


def test_analyst_may_export_but_not_save_a_segment(client, analyst, north_event):
    client.force_login(analyst)
    assert len(_rows(client.get(_url("export", north_event)))) == 4
    assert client.post(_url("segment", north_event)).status_code == 403
    assert not Segment.objects.exists()


def test_cells_that_look_like_formulas_are_neutralised(client, admin, areas):
    event = make_event(area=areas.leeds_central)
    _rsvp(event, factories.person(first_name="=cmd", last_name="@SUM(A1)"))
    client.force_login(admin)
    (row,) = _rows(client.get(_url("export", event)))
    assert row["first_name"] == "'=cmd"
    assert row["last_name"] == "'@SUM(A1)"


def test_export_is_audited_with_its_row_count(client, organiser, north_event):
    client.force_login(organiser)
    _rows(client.get(_url("export", north_event)))
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert entry.actor == organiser
    assert entry.object_type == "event"
    assert str(entry.object_id) == str(north_event.pk)
    assert entry.detail["rows"] == 3
    assert "Nora" not in entry.summary


@pytest.mark.parametrize("who", ["admin", "organiser"])
def test_segment_of_rsvps_counts_the_export_rows(client, north_event, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    rows = _rows(client.get(_url("export", north_event)))
    response = client.post(_url("segment", north_event))
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("people:segment_detail", args=[segment.pk])
    assert {c["type"] for c in segment.definition["conditions"]} == {"event"}
    assert segment_count(user, segment) == len(rows)
    assert client.get(response["Location"]).status_code == 200


def test_segment_leaves_out_cancelled_rsvps_of_people_who_did_not_come(
    client, admin, north_event, areas
):
    north = areas.postcodes["north"]
    _rsvp(north_event, factories.person(first_name="Cal", postcode=north), C)
    _rsvp(north_event, factories.person(first_name="Cam", postcode=north), C, ATT)
    client.force_login(admin)
    rows = _rows(client.get(_url("export", north_event)))
    client.post(_url("segment", north_event))
    # Cal cancelled and did not come; Cam cancelled but came anyway.
    assert segment_count(admin, Segment.objects.get()) == len(rows) - 1


def test_staff_page_links_to_export_and_segment(client, admin, analyst, north_event):
    client.force_login(admin)
    text = client.get(_url("detail", north_event)).content.decode()
    assert _url("export", north_event) in text and _url("segment", north_event) in text
    client.force_login(analyst)
    text = client.get(_url("detail", north_event)).content.decode()
    assert _url("export", north_event) in text and _url("segment", north_event) not in text
