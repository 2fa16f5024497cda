from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.core.testing.smtp import smtp_server  # noqa: F401  (fixture)
from clarion.events.models import Event
from clarion.events.services import event_save


def make_event(*, area=None, postcode="LS1 4AP", days=3, **fields) -> Event:
    start = fields.pop("starts_at", None) or (
        timezone.now() + datetime.timedelta(days=days)
    ).replace(microsecond=0)
    fields.setdefault("title", "Door knocking in City Ward")
    fields.setdefault("kind", Event.Kind.CANVASS)
    fields.setdefault("description", "Meet at the **library** steps.")
    fields.setdefault("venue", "Central Library")
    fields.setdefault("ends_at", start + datetime.timedelta(hours=2))
    return event_save(event=Event(area=area, postcode=postcode, starts_at=start, **fields))


@pytest.fixture
def event(areas):
    return make_event(area=areas.leeds_central, capacity=10)


def rsvp_post(client, event, **overrides):
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.net",
        "postcode": "LS2 7EY",
        "guests": "0",
    }
    data.update(overrides)
    return client.post(f"/events/{event.pk}/", data)
