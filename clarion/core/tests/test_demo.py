"""``clarion load_demo``: what `make run` shows a new user."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from clarion.actions.models import ActionPage
from clarion.areas.models import Area
from clarion.core.models import User
from clarion.events.models import Event

pytestmark = pytest.mark.django_db


def test_demo_loads_once_with_pages_events_and_group_pages():
    call_command("load_demo", people=40)
    assert User.objects.filter(email="admin@example.org", role=User.Role.ADMIN).exists()
    assert set(ActionPage.objects.values_list("kind", flat=True)) >= {
        "petition",
        "donation",
        "letter",
    }
    events = Event.objects.filter(status=Event.Status.PUBLISHED)
    assert events.count() == 6 and all(e.area_id and e.latitude for e in events)
    canvass = events.get(title="Saturday doorstep in Leeds Central")
    assert canvass.shifts.count() == 2 and canvass.questions.count() == 1
    north = Area.objects.get(code="R-N")
    assert "every Saturday" in north.get_involved

    client = Client()
    found = client.get("/events/", {"postcode": "LS1 6FR"}).content.decode()
    assert "Saturday doorstep in Leeds Central" in found
    group = client.get(f"/groups/{north.pk}/").content.decode()
    assert "Saturday doorstep in Leeds Central" in group and "every Saturday" in group

    call_command("load_demo", people=40)  # a second run changes nothing
    assert Event.objects.count() == 6


def test_demo_organiser_can_email_everyone_from_an_allowed_address():
    from clarion.mailings.models import Mailing

    call_command("load_demo", people=40)
    north = Area.objects.get(code="R-N")
    client = Client()
    assert client.login(email="north@example.org", password="clarion-demo")
    composer = client.post("/staff/dashboard/email-area/", {"area": north.pk}, follow=True)
    html = composer.content.decode()
    assert "No from address yet" not in html
    options = re.findall(r'<option value="([^"]+@demo\.example\.org)"', html)
    assert options == ["hello@demo.example.org", "north@demo.example.org"]
    segment = re.search(r'<option value="(\d+)" selected', html).group(1)
    saved = client.post(
        composer.redirect_chain[-1][0],
        {
            "name": "Saturday",
            "category": "news",
            "segment": segment,
            "subject": "See you Saturday",
            "from_name": "The North team",
            "from_email": "north@demo.example.org",
            "body_format": "markdown",
            "body": "Dear {{ first_name }}",
            "ab_variants": 1,
            "ab_test_percent": 10,
            "ab_wait_minutes": 240,
            "ab_metric": "clicks",
            "frequency_cap_hours": 0,
            "rate_per_second": 0,
        },
    )
    assert saved.status_code == 302, saved.content.decode()
    assert Mailing.objects.get(name="Saturday").from_email == "north@demo.example.org"
