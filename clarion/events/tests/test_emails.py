"""Emails go out through the task queue and a real SMTP server, each at most once."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from clarion.core.testing.smtp import body_html, body_text
from clarion.events.models import EventEmail, Rsvp
from clarion.events.services import RsvpInput, checkin_mark, reminders_queue, rsvp_create

from .conftest import make_event, rsvp_post

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker():
    call_command("worker", "--batch")


def test_confirmation_has_an_ics_attachment_and_a_manage_link(client, areas, smtp_server):
    event = make_event(area=areas.leeds_central, capacity=5, title="Canvass, Leeds; City Ward")
    rsvp_post(client, event)
    assert smtp_server.messages == []
    run_worker()
    [message] = smtp_server.wait_for(1)
    assert "You’re going: Canvass, Leeds; City Ward" in message["Subject"]
    text = body_text(message)
    assert "Central Library" in text and "Canvass, Leeds; City Ward" in body_html(message)
    manage = re.search(r"http://[^\s]+/events/\d+/rsvp/[^\s]+/", text).group(0)
    path = manage.split("127.0.0.1:8000", 1)[-1]
    assert "you're going" in client.get(path).content.decode().replace("&#x27;", "'")
    [attachment] = [
        p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"
    ]
    raw = attachment.get_payload(decode=True).decode()
    assert "SUMMARY:Canvass\\, Leeds\\; City Ward\r\n" in raw
    assert f"DTSTART:{event.starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" in raw
    run_worker()
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1


def test_waitlisted_person_is_told_and_promoted_person_is_told(client, areas, smtp_server):
    event = make_event(area=areas.leeds_central, capacity=1)
    first = rsvp_post(client, event, email="first@example.net")
    rsvp_post(client, event, email="second@example.net", first_name="Bea")
    run_worker()
    smtp_server.wait_for(2)
    [waiting] = smtp_server.to("second@example.net")
    assert "waiting list" in waiting["Subject"]
    client.post(first["Location"], {"action": "cancel", "confirm": "yes"})
    assert Rsvp.objects.get(person__email="second@example.net").status == Rsvp.Status.GOING
    run_worker()
    messages = smtp_server.wait_for(3)
    promoted = [
        m for m in smtp_server.to("second@example.net") if "place came free" in m["Subject"]
    ]
    assert len(promoted) == 1 and len(messages) == 3
    assert any(p.get_content_type() == "text/calendar" for p in promoted[0].iter_attachments())


def test_reminders_go_out_once_even_when_queued_and_run_twice(areas, smtp_server):
    event = make_event(
        area=areas.leeds_central, starts_at=timezone.now() + datetime.timedelta(hours=20)
    )
    rsvp_create(event=event, data=RsvpInput(email="a@example.net", first_name="Ann"))
    rsvp_create(event=event, data=RsvpInput(email="b@example.net", first_name="Ben"))
    run_worker()  # confirmations
    smtp_server.wait_for(2)
    call_command("send_event_reminders")
    reminders_queue()  # queued twice on purpose
    run_worker()
    run_worker()
    messages = smtp_server.wait_for(5, timeout=1)
    reminders = [m for m in messages if m["Subject"].startswith("Reminder")]
    assert sorted(m["To"] for m in reminders) == ["a@example.net", "b@example.net"]
    assert "24 hours" in body_text(reminders[0])
    assert EventEmail.objects.filter(kind="reminder_24").count() == 2
    assert reminders_queue() == 0  # nothing more is due


def test_follow_up_goes_to_people_who_came(areas, smtp_server):
    event = make_event(area=areas.leeds_central, follow_up="Next: phone bank on Tuesday.")
    came = rsvp_create(event=event, data=RsvpInput(email="came@example.net")).rsvp
    rsvp_create(event=event, data=RsvpInput(email="stayed@example.net"))
    checkin_mark(rsvp=came, attendance=Rsvp.Attendance.ATTENDED)
    type(event).objects.filter(pk=event.pk).update(
        starts_at=timezone.now() - datetime.timedelta(hours=3),
        ends_at=timezone.now() - datetime.timedelta(hours=1),
    )
    run_worker()
    smtp_server.wait_for(2)
    assert reminders_queue() == 1
    reminders_queue()
    run_worker()
    followups = [m for m in smtp_server.wait_for(3) if "Thank you for coming" in m["Subject"]]
    assert [m["To"] for m in followups] == ["came@example.net"]
    assert "phone bank on Tuesday" in body_text(followups[0])
