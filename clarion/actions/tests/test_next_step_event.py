"""The "RSVP to the nearest event" next step after acting on an action page."""

from __future__ import annotations

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.actions.models import ActionPage, Submission
from clarion.events.models import Event
from clarion.events.services import event_save


def _event(area, postcode, title, *, days=3, **fields):
    start = timezone.now() + datetime.timedelta(days=days)
    return event_save(
        event=Event(
            title=title,
            kind=Event.Kind.CANVASS,
            area=area,
            postcode=postcode,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            **fields,
        )
    )


@pytest.fixture
def page(areas):
    return ActionPage.objects.create(
        slug="save-the-library",
        title="Save the library",
        status=ActionPage.Status.LIVE,
        next_step=ActionPage.NextStep.EVENT,
    )


def _act(client, page, **overrides):
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.net",
        "postcode": "LS2 7EY",
        "website": "",
    }
    data.update(overrides)
    response = client.post(reverse("actions:page", kwargs={"slug": page.slug}), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def _person_token(client, thanks_url):
    """The person's token in the thank-you page's next-step link (the form's redirect
    names its submission; the page names the person it created)."""
    body = client.get(thanks_url).content.decode()
    return parse_qs(urlsplit(re.search(r'href="([^"]*/next/[^"]*)"', body).group(1)).query)["p"][0]


def test_thanks_offers_the_nearest_event_and_next_leads_to_it(client, areas, page):
    near = _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    _event(areas.leeds_central, "LS1 4AP", "Later City Ward doorstep", days=10)
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep", days=1)
    thanks_url = _act(client, page)
    body = client.get(thanks_url).content.decode()
    assert "RSVP to the nearest event" in body
    assert "City Ward doorstep" in body
    assert "Easton doorstep" not in body
    token = _person_token(client, thanks_url)
    response = client.get(reverse("actions:next", kwargs={"slug": page.slug}), {"p": token})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == reverse("events:detail", kwargs={"pk": near.pk})
    assert parse_qs(target.query)["source"] == ["next:save-the-library"]
    assert Submission.objects.get(page=page).next_step_at is not None
    # The event page carries the source into its RSVP form.
    event_page = client.get(response["Location"]).content.decode()
    assert 'value="next:save-the-library"' in event_page


def test_no_event_nearby_offers_the_finder_with_their_postcode(client, areas, page):
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep")
    thanks_url = _act(client, page)
    body = client.get(thanks_url).content.decode()
    assert "Find an event near me" in body
    assert "Easton doorstep" not in body
    token = _person_token(client, thanks_url)
    response = client.get(reverse("actions:next", kwargs={"slug": page.slug}), {"p": token})
    assert response["Location"] == reverse("events:find") + "?postcode=LS2+7EY"


def test_without_a_postcode_or_token_the_finder_is_offered(client, areas, page):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    thanks_url = _act(client, page, postcode="")
    assert "Find an event near me" in client.get(thanks_url).content.decode()
    anonymous = client.get(reverse("actions:next", kwargs={"slug": page.slug}))
    assert anonymous["Location"] == reverse("events:find")
    forged = client.get(reverse("actions:next", kwargs={"slug": page.slug}), {"p": "forged"})
    assert forged["Location"] == reverse("events:find")


def test_postcode_missing_from_the_table_is_geocoded(client, areas, page, monkeypatch):
    """A supporter whose postcode the table lacks is placed through the geocoder."""
    from clarion.areas import geocoding

    near = _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")

    class Fake:
        def locate(self, postcode):
            if postcode == "LS6 1AA":
                return geocoding.Location(postcode="LS6 1AA", latitude=53.81, longitude=-1.56)
            return None

    monkeypatch.setattr(geocoding, "get_geocoder", lambda: Fake())
    thanks_url = _act(client, page, postcode="LS6 1AA")
    token = _person_token(client, thanks_url)
    response = client.get(reverse("actions:next", kwargs={"slug": page.slug}), {"p": token})
    assert urlsplit(response["Location"]).path == reverse("events:detail", kwargs={"pk": near.pk})


def test_while_the_signature_waits_in_intake_the_typed_postcode_finds_the_event(
    client, areas, page, intake_async
):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep", days=1)
    thanks_url = _act(client, page)
    assert Submission.objects.get(page=page).person_id is None  # not processed yet
    body = client.get(thanks_url).content.decode()
    assert "City Ward doorstep" in body
    assert "Easton doorstep" not in body


def test_someone_already_known_sees_the_event_near_what_they_typed_and_nothing_stored(
    client, areas, page
):
    from clarion.people.models import Person

    Person.objects.create(email="ada@example.net", first_name="Ada", postcode="BS5 6XX")
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep", days=1)
    body = client.get(_act(client, page)).content.decode()
    # Near the postcode typed on the form, not the one stored about the mailbox.
    assert "City Ward doorstep" in body
    assert "Easton doorstep" not in body
