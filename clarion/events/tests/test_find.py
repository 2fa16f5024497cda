"""Find an event near me: postcode and radius, nearest first, filters, no JS needed."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.areas.models import Postcode

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_nearest_events_first_within_the_radius(client, areas):
    Postcode.objects.create(
        postcode="LS6 1AA", area=areas.leeds_central, latitude=53.83, longitude=-1.58
    )
    far = make_event(
        area=areas.leeds_central, postcode="LS6 1AA", title="Headingley social", kind="social"
    )
    near = make_event(area=areas.leeds_central, postcode="LS2 7EY", title="Campus canvass")
    make_event(area=areas.bristol_east, postcode="BS5 6XX", title="Bristol rally", kind="rally")
    make_event(
        area=areas.leeds_central,
        title="Old meeting",
        starts_at=timezone.now() - datetime.timedelta(days=2),
    )
    make_event(area=areas.leeds_central, title="Hidden meeting", visibility="unlisted")
    html = client.get("/events/", {"postcode": "ls1 4ap", "radius": "10"}).content.decode()
    assert html.index(near.title) < html.index(far.title)
    assert (
        "Bristol rally" not in html and "Old meeting" not in html and "Hidden meeting" not in html
    )
    assert "2 events near LS1 4AP" in html
    only_social = client.get(
        "/events/", {"postcode": "LS1 4AP", "radius": "10", "kind": "social"}
    ).content.decode()
    assert "Headingley social" in only_social and "Campus canvass" not in only_social
    wide = client.get("/events/", {"postcode": "LS1 4AP", "radius": "50"}).content.decode()
    assert "Bristol rally" not in wide  # ~170 miles away


def test_date_filter(client, areas):
    make_event(area=areas.leeds_central, title="Soon", days=1)
    make_event(area=areas.leeds_central, title="Later", days=20)
    day = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    html = client.get("/events/", {"postcode": "LS1 4AP", "date_from": day}).content.decode()
    assert "Later" in html and "Soon" not in html


def test_unknown_postcode_gets_a_clear_error(client, areas):
    response = client.get("/events/", {"postcode": "LS99 9ZZ"})
    assert response.status_code == 400
    assert "We don&#x27;t know that postcode." in response.content.decode()
    bad = client.get("/events/", {"postcode": "hello", "radius": "7", "date_from": "not-a-date"})
    assert bad.status_code == 400 and "full UK postcode" in bad.content.decode()


def test_event_page_has_open_graph_and_share_links_with_credit(client, event, north_person):
    html = client.get(f"/events/{event.pk}/").content.decode()
    assert '<meta property="og:title" content="Door knocking in City Ward">' in html
    assert "<strong>library</strong>" in html
    assert "wa.me" in html and "facebook.com/sharer" in html
    response = client.post(
        f"/events/{event.pk}/", {"first_name": "Ada", "email": "ada@example.net", "guests": "0"}
    )
    manage = client.get(response["Location"]).content.decode()
    from clarion.people.models import Person

    ada = Person.objects.get(email="ada@example.net")
    assert f"ref={ada.share_code}" in manage
    invited = client.get(f"/events/{event.pk}/", {"ref": ada.share_code}).content.decode()
    assert "Ada invited you." in invited


def test_description_markdown_is_sanitised(client, areas):
    event = make_event(
        area=areas.leeds_central, description="<script>alert(1)</script> [x](javascript:alert(1))"
    )
    html = client.get(f"/events/{event.pk}/").content.decode()
    assert "<script>alert" not in html and "javascript:" not in html


def test_a_link_with_only_a_postcode_shows_the_distance_it_searched(client, areas):
    """``/events/?postcode=…`` (as the members' "Find an event near you" and shared links
    send) searches the default 10 miles and the form says 10 miles, not its first choice."""
    make_event(area=areas.leeds_central, postcode="LS2 7EY", title="Campus canvass")
    html = client.get("/events/", {"postcode": "LS1 4AP"}).content.decode()
    assert "Campus canvass" in html
    assert '<option value="10" selected>' in html
    assert '<option value="1" selected>' not in html
