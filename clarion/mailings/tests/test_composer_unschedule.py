"""Cancelling a scheduled send: back to draft, audited, and never racing the worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.mailings import services
from clarion.mailings.models import Mailing, Recipient

from .helpers import make_mailing

pytestmark = pytest.mark.usefixtures("mail_settings")


@pytest.fixture
def scheduled(admin, subscribed, everyone, django_capture_on_commit_callbacks):
    mailing = make_mailing(admin, everyone)
    with django_capture_on_commit_callbacks(execute=False):
        return services.mailing_send(
            mailing=mailing, actor=admin, when=timezone.now() + timedelta(days=1)
        )


def test_scheduled_mailing_offers_cancel_instead_of_send(admin_client, scheduled):
    page = admin_client.get(f"/staff/mailings/{scheduled.pk}/").content.decode()
    assert "Cancel the scheduled send" in page and "Send mailing" not in page
    confirm = admin_client.get(f"/staff/mailings/{scheduled.pk}/unschedule/")
    assert confirm.status_code == 200
    assert "Keep it scheduled" in confirm.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == Mailing.Status.SCHEDULED  # asking changes nothing


def test_cancelling_returns_it_to_draft_audited_and_the_start_does_nothing(
    admin, admin_client, scheduled
):
    response = admin_client.post(f"/staff/mailings/{scheduled.pk}/unschedule/", follow=True)
    page = response.content.decode()
    assert "The scheduled send was cancelled. The mailing is a draft again." in page
    assert "Send mailing" in page
    scheduled.refresh_from_db()
    assert scheduled.status == Mailing.Status.DRAFT and scheduled.scheduled_at is None
    entry = AuditEntry.objects.get(object_type="mailing", object_id=str(scheduled.pk))
    assert entry.actor == admin and "cancelled" in entry.summary
    # The start task queued when it was scheduled finds a draft and sends nothing.
    assert services.mailing_start_now(mailing_id=scheduled.pk) == "not sending (draft)"
    assert not Recipient.objects.filter(mailing=scheduled).exists()


def test_a_send_the_worker_already_started_cannot_be_cancelled_this_way(
    admin, admin_client, scheduled
):
    stale = Mailing.objects.get(pk=scheduled.pk)
    Mailing.objects.filter(pk=scheduled.pk).update(status=Mailing.Status.SENDING)
    with pytest.raises(ValidationError, match="sending has already started"):
        services.mailing_schedule_cancel(mailing=stale, actor=admin)

    response = admin_client.post(f"/staff/mailings/{scheduled.pk}/unschedule/", follow=True)
    assert "sending has already started" in response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == Mailing.Status.SENDING
    assert not AuditEntry.objects.filter(object_type="mailing").exists()
    confirm = admin_client.get(f"/staff/mailings/{scheduled.pk}/unschedule/", follow=True)
    assert "sending has already started" in confirm.content.decode()


def test_a_draft_has_nothing_to_cancel(admin_client, admin, subscribed, everyone):
    mailing = make_mailing(admin, everyone)
    response = admin_client.get(f"/staff/mailings/{mailing.pk}/unschedule/", follow=True)
    assert "This mailing is not scheduled." in response.content.decode()


def test_analyst_cannot_cancel_a_scheduled_send(client, analyst, scheduled):
    client.force_login(analyst)
    assert client.post(f"/staff/mailings/{scheduled.pk}/unschedule/").status_code == 403
    scheduled.refresh_from_db()
    assert scheduled.status == Mailing.Status.SCHEDULED
