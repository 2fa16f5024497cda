"""iCalendar output: one event and an area feed, per RFC 5545."""

from __future__ import annotations

import pytest

from clarion.events.ics import escape_text, fold

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_escaping_and_folding():
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "DESCRIPTION:" + "é" * 100
    folded = fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(pieces)) == line


def test_event_ics_download(client, event):
    response = client.get(f"/events/{event.pk}/event.ics")
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "\n" not in body.replace("\r\n", "")
    for key in (
        "UID:event-",
        "DTSTAMP:",
        "DTSTART:",
        "DTEND:",
        "SUMMARY:Door knocking in City Ward",
        "LOCATION:Central Library\\, LS1 4AP",
    ):
        assert key in body


def test_area_feed_lists_the_subtree_public_events_only(client, areas):
    make_event(area=areas.leeds_central, title="Leeds canvass")
    make_event(area=areas.bristol_east, postcode="BS5 6XX", title="Bristol canvass")
    make_event(area=areas.leeds_central, title="Secret planning", visibility="unlisted")
    body = client.get(f"/events/area/{areas.north.pk}/calendar.ics").content.decode()
    assert "SUMMARY:Leeds canvass" in body
    assert "Bristol" not in body and "Secret" not in body
    assert "X-WR-CALNAME:" in body
    assert client.get("/events/area/999999/calendar.ics").status_code == 404
