"""Which reminder is due: configurable lead times, only the latest one reached."""

from __future__ import annotations

import datetime

import pytest

from clarion.events.services import due_reminder_hours

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_only_the_nearest_reminder_is_due(areas):
    event = make_event(area=areas.leeds_central, reminder_hours="24, 2")
    start = event.starts_at
    hour = datetime.timedelta(hours=1)
    assert due_reminder_hours(event, start - 30 * hour) is None
    assert due_reminder_hours(event, start - 20 * hour) == 24
    assert (
        due_reminder_hours(event, start - 1 * hour) == 2
    )  # a late RSVP gets one reminder, not two
    assert due_reminder_hours(event, start + hour) is None


def test_reminders_are_configurable_per_event(areas):
    event = make_event(area=areas.leeds_central, reminder_hours="48")
    assert due_reminder_hours(event, event.starts_at - datetime.timedelta(hours=40)) == 48
    event.reminder_hours = ""
    assert due_reminder_hours(event, event.starts_at - datetime.timedelta(minutes=5)) is None


def test_staff_form_rejects_nonsense_reminder_hours(organiser_client, areas):
    from .test_staff import event_form

    response = organiser_client.post(
        "/staff/events/new/", event_form(area=areas.leeds_central.pk, reminder_hours="24,tomorrow")
    )
    assert response.status_code == 400
    assert "Give whole hours between 1 and 336" in response.content.decode()
