"""The ``members.lifecycle`` job with the clock moved on: overdue members enter grace,
grace ends in one lapse (audited, once), and the renewal reminder and win-back email
each reach a real SMTP server at most once per person per cycle, through the mailing
ledger."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections
from django.utils import timezone

from clarion.core import schedule
from clarion.core.models import AuditEntry
from clarion.core.testing.smtp import body_text
from clarion.mailings.models import Link, Recipient
from clarion.mailings.tests.helpers import run_tasks
from clarion.members.membership import (
    membership_join,
    membership_payment_received,
    membership_round,
    memberships_lapse_due,
)
from clarion.members.models import Membership, MembershipChange, MembershipNotice
from clarion.people.models import EmailStatus, MembershipStatus, Person
from clarion.people.services import email_status_set

pytestmark = pytest.mark.django_db(transaction=True)

D = dt.date


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def mail_settings(settings):
    settings.SITE_URL = "https://clarion.example.org"
    settings.CLARION_MAILINGS_VERP_DOMAIN = "bounces.example.org"
    settings.CLARION_MAILINGS_SENDERS = 1
    settings.DEFAULT_FROM_EMAIL = "Clarion HQ <hq@clarion.example.org>"
    settings.CLARION_MEMBERSHIP_GRACE_DAYS = 14
    settings.CLARION_MEMBERSHIP_REMINDER_DAYS = 14
    return settings


def tick(capture, now):
    """One run of the job at ``now``, then the mailing senders."""
    with capture(execute=True):
        result = membership_round(now=now)
    run_tasks(capture)
    return result


def test_the_job_is_registered_with_the_clock():
    job = schedule._registry["members.lifecycle"]
    assert job.is_task and job.every <= dt.timedelta(days=1)


def test_reminder_lapse_and_win_back_with_the_clock_moved_on(
    north_person, standard, mail_settings, smtp_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    email_status_set(person=north_person, status=EmailStatus.SUBSCRIBED)
    membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 3, 1)
    )

    # Three weeks before renewal: nothing yet.
    assert tick(capture, at(D(2026, 3, 10)))["reminders"] == 0
    # Twelve days before: the reminder, once however often the job runs.
    assert tick(capture, at(D(2026, 3, 20)))["reminders"] == 1
    assert tick(capture, at(D(2026, 3, 20), 10))["reminders"] == 0
    assert tick(capture, at(D(2026, 3, 25)))["reminders"] == 0
    mails = smtp_server.wait_for(1)
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Your membership renews soon"
    assert "Dear Nora," in body_text(mails[0])
    assert "My membership" in body_text(mails[0])
    # The link to the membership page (click-tracked, like every ledger email).
    assert Link.objects.filter(url="https://clarion.example.org/members/membership/").exists()

    # The renewal date passes unpaid: grace until 14 days after it, still a member.
    result = tick(capture, at(D(2026, 4, 2)))
    assert (result["overdue"], result["lapsed"]) == (1, 0)
    m = Membership.objects.get()
    assert (m.status, m.grace_until) == ("grace", D(2026, 4, 15))
    assert Person.objects.get(pk=north_person.pk).membership_status == MembershipStatus.ACTIVE
    assert tick(capture, at(D(2026, 4, 15)))["lapsed"] == 0

    # Grace over: lapsed once, audited once, and the win-back email goes once.
    result = tick(capture, at(D(2026, 4, 16)))
    assert (result["lapsed"], result["winbacks"]) == (1, 1)
    again = tick(capture, at(D(2026, 4, 16), 15))
    assert (again["lapsed"], again["winbacks"]) == (0, 0)
    assert tick(capture, at(D(2026, 4, 30)))["winbacks"] == 0
    m.refresh_from_db()
    assert m.status == "lapsed"
    assert Person.objects.get(pk=north_person.pk).membership_status == MembershipStatus.LAPSED
    assert AuditEntry.objects.filter(detail__membership="lapsed").count() == 1
    assert MembershipChange.objects.filter(kind="lapsed").count() == 1
    mails = smtp_server.wait_for(2)
    assert [x["Subject"] for x in mails] == ["Your membership renews soon", "We miss you"]

    # They pay again: active for a month from the payment; the next cycle's reminder
    # is a new one and goes too.
    membership_payment_received(
        person=north_person,
        amount_pence=500,
        paid_at=at(D(2026, 4, 20)),
        provider="manual",
        reference="cash-2",
    )
    assert tick(capture, at(D(2026, 5, 10)))["reminders"] == 1
    assert len(smtp_server.wait_for(3)) == 3
    assert MembershipNotice.objects.filter(kind="reminder").count() == 2
    assert len(smtp_server.messages) == 3


def test_someone_not_subscribed_is_not_mailed_and_not_retried(
    north_person, standard, mail_settings, smtp_server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    email_status_set(person=north_person, status=EmailStatus.UNSUBSCRIBED)
    membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 3, 1)
    )
    assert tick(capture, at(D(2026, 3, 25)))["reminders"] == 0
    notice = MembershipNotice.objects.get()
    assert notice.queued is False
    assert not Recipient.objects.exists()
    assert smtp_server.messages == []


def test_two_jobs_at_once_lapse_a_member_once(north_person, standard, mail_settings):
    membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 1, 1)
    )
    now = at(D(2026, 3, 1))
    results: list[dict] = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait(timeout=10)
            results.append(memberships_lapse_due(now=now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r["lapsed"] for r in results) == 1
    assert sum(r["overdue"] for r in results) == 1
    assert AuditEntry.objects.filter(detail__membership="lapsed").count() == 1
    assert Membership.objects.get().status == "lapsed"
