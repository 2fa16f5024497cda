"""The email step goes through the mailing ledger: one copy per person and step,
suppression, unsubscribes and frequency caps hold, and it reaches a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clarion.core.testing.smtp import body_text
from clarion.journeys import engine, services
from clarion.journeys.models import Enrolment, Step, StepRun, Todo
from clarion.journeys.selectors import step_stats
from clarion.mailings.models import Mailing, Recipient
from clarion.mailings.services import recipient_unsubscribe
from clarion.mailings.tests.helpers import run_tasks
from clarion.people.models import EmailStatus, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import email_status_set

from .conftest import email_config, make_journey

pytestmark = [
    pytest.mark.usefixtures("mail_settings", "from_addresses"),
    pytest.mark.django_db(transaction=True),
]

WELCOME = [
    {"key": "hello", "type": "email", "config": email_config(), "next": "wait"},
    {"key": "wait", "type": "wait", "config": {"days": 2}, "next": "again"},
    {
        "key": "again",
        "type": "email",
        "config": email_config(subject="Still with us?"),
        "next": "call",
    },
    {"key": "call", "type": "human", "config": {"note": "Phone them"}},
]


def advance(capture, now=None):
    with capture(execute=True):
        engine.advance_due(now=now)
    run_tasks(capture)


def test_each_email_step_reaches_the_person_once_through_the_ledger(
    admin, nora, sid, smtp_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    journey = make_journey(admin, WELCOME)
    for p in (nora, sid):
        services.enrol(journey=journey, person_id=p.pk)
    now = timezone.now()
    advance(capture, now)

    first = smtp_server.wait_for(2)
    assert sorted(m["Subject"] for m in first) == ["Thank you, Nora", "Thank you, Sid"]
    nora_mail = smtp_server.to("nora@example.net")[0]
    assert "Dear Nora," in body_text(nora_mail)
    assert nora_mail["List-Unsubscribe"]
    hello = Step.objects.get(key="hello")
    assert set(
        Recipient.objects.filter(mailing=hello.mailing).values_list("status", flat=True)
    ) == {"sent"}

    advance(capture, now + timedelta(days=1))  # nothing due: nothing more sent
    assert len(smtp_server.messages) == 2

    advance(capture, now + timedelta(days=2, minutes=1))
    messages = smtp_server.wait_for(4)
    assert sorted(m["Subject"] for m in messages[2:]) == ["Still with us?", "Still with us?"]
    assert len(smtp_server.messages) == 4
    assert Enrolment.objects.filter(state="completed").count() == 2
    stats = {row["step"].key: row for row in step_stats(journey)}
    assert (stats["hello"]["entered"], stats["hello"]["sent"]) == (2, 2)
    assert Mailing.objects.get(pk=hello.mailing_id).status == Mailing.Status.SENT


def test_someone_unsubscribed_skips_the_emails_but_still_gets_the_human_step(
    admin, nora, smtp_server, django_capture_on_commit_callbacks
):
    journey = make_journey(admin, WELCOME)
    email_status_set(person=nora, status=EmailStatus.UNSUBSCRIBED)
    services.enrol(journey=journey, person_id=nora.pk)
    now = timezone.now()
    advance(django_capture_on_commit_callbacks, now)
    advance(django_capture_on_commit_callbacks, now + timedelta(days=3))

    assert smtp_server.messages == []
    assert not Recipient.objects.exists()
    assert list(StepRun.objects.filter(step__type="email").values_list("outcome", flat=True)) == [
        "skipped",
        "skipped",
    ]
    assert Todo.objects.filter(person=nora).count() == 1
    assert Enrolment.objects.get().state == "completed"


def test_an_unsubscribe_after_the_step_but_before_the_send_stops_the_message(
    admin, nora, smtp_server, django_capture_on_commit_callbacks
):
    journey = make_journey(admin, [{**WELCOME[0], "next": None}])
    services.enrol(journey=journey, person_id=nora.pk)
    engine.advance_due()  # the ledger row is queued; no sender has run yet
    row = Recipient.objects.get()
    recipient_unsubscribe(recipient=row, how="link")
    run_tasks(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        engine.sweep()
    run_tasks(django_capture_on_commit_callbacks)

    assert smtp_server.messages == []
    row.refresh_from_db()
    assert row.status == Recipient.Status.SUPPRESSED


def test_a_suppressed_address_and_the_frequency_cap_are_respected(
    admin, nora, sid, smtp_server, django_capture_on_commit_callbacks
):
    capped = make_journey(
        admin,
        [
            {"key": "one", "type": "email", "config": email_config(subject="One"), "next": "two"},
            {
                "key": "two",
                "type": "email",
                "config": email_config(subject="Two", frequency_cap_hours=24),
            },
        ],
    )
    Suppression.objects.create(email_hash=email_hash(sid.email), reason="complained")
    for p in (nora, sid):
        services.enrol(journey=capped, person_id=p.pk)
    advance(django_capture_on_commit_callbacks)

    # Nora got "One" (and "Two" was held back by its 24-hour cap); Sid got nothing.
    got = smtp_server.wait_for(1)
    assert [(m["Subject"], m.envelope_to) for m in got] == [("One", ["nora@example.net"])]
    statuses = dict(Recipient.objects.filter(person=nora).values_list("mailing__subject", "status"))
    assert statuses == {"One": "sent", "Two": "suppressed"}
    assert set(Recipient.objects.filter(person=sid).values_list("status", flat=True)) == {
        "suppressed"
    }


def test_a_person_going_through_again_is_not_sent_the_same_email_twice(
    admin, nora, smtp_server, django_capture_on_commit_callbacks
):
    journey = make_journey(admin, [{**WELCOME[0], "next": None}], reentry_allowed=True)
    services.enrol(journey=journey, person_id=nora.pk)
    advance(django_capture_on_commit_callbacks)
    assert services.enrol(journey=journey, person_id=nora.pk)
    advance(django_capture_on_commit_callbacks)

    assert len(smtp_server.wait_for(1)) == 1
    runs = list(StepRun.objects.order_by("id").values_list("outcome", "detail"))
    assert runs == [("queued", ""), ("skipped", "Already sent this email before.")]
