"""Receipts go out through the task queue to a real SMTP server on loopback, once."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command

from clarion.core.testing import factories
from clarion.donations import services
from clarion.donations.models import Donation
from clarion.donations.tasks import donation_receipt_task


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.ORGANISATION_NAME = "Northern Campaign"
    yield collector
    controller.stop()


@pytest.mark.django_db(transaction=True)
def test_a_paid_donation_is_receipted_once_by_the_worker(smtp, settings):
    from clarion.actions.models import ActionPage

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    page = ActionPage.objects.create(
        kind="donation", slug="fund", title="Fund the fight", status="live"
    )
    person = factories.person(email="rhi@example.net", first_name="Rhiannon")
    donation = services.donation_start(
        page=page, person=person, amount_pence=1250, currency="GBP", recurring=False, attribution={}
    ).donation
    services.donation_succeed(donation_id=donation.pk)
    services.donation_succeed(donation_id=donation.pk)  # a repeat enqueues nothing new to send
    assert smtp.messages == []  # not sent inside the request

    call_command("worker", "--batch")

    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["rhi@example.net"]
    assert (
        message["Subject"].strip() == "Thank you for your donation of £12.50 to Northern Campaign"
    )
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Dear Rhiannon" in body and "£12.50" in body and "Northern Campaign" in body
        assert "Fund the fight" in body and f"D{donation.pk:06d}" in body
        assert "[" not in body  # no unfilled placeholders
    donation.refresh_from_db()
    assert donation.receipt_sent_at is not None

    # Delivered again (a retried job): nothing more is sent.
    assert donation_receipt_task.call(donation.pk) == "skipped"
    call_command("worker", "--batch")
    assert len(smtp.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_no_receipt_for_unpaid_or_erased_donors(smtp):
    from clarion.actions.models import ActionPage

    page = ActionPage.objects.create(kind="donation", slug="fund2", title="Fund", status="live")
    person = factories.person(email="x@example.net")
    donation = services.donation_start(
        page=page, person=person, amount_pence=500, currency="GBP", recurring=False, attribution={}
    ).donation
    assert donation_receipt_task.call(donation.pk) == "not paid"
    Donation.objects.filter(pk=donation.pk).update(status="succeeded", person=None)
    assert donation_receipt_task.call(donation.pk) == "no address"
    assert donation_receipt_task.call(999999) == "skipped"
    assert smtp.messages == []
