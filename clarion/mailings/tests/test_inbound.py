"""Bounces (RFC 3464 DSNs) and complaints (ARF) fed over SMTP to the inbound receiver."""

from __future__ import annotations

import smtplib

import pytest

from clarion.mailings.inbound import Handler
from clarion.mailings.models import Event, Recipient
from clarion.mailings.sending import tokens
from clarion.people.models import Activity, Suppression
from clarion.people.normalise import email_hash

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inbound(mail_settings):
    from aiosmtpd.controller import Controller

    from clarion.core.testing.smtp import _free_port

    port = _free_port()
    handler = Handler("bounces.example.org")
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
        handler.close()


def dsn(to: str, status: str, action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
        "--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n"
        "--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\nArrival-Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
        f"Final-Recipient: rfc822; sid@example.net\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} mailbox problem\r\n\r\n"
        "--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: save the library\r\n\r\n--B1--\r\n"
    ).encode()


def arf(original_headers: str) -> bytes:
    return (
        "From: feedback@isp.example\r\nTo: abuse@clarion.example.org\r\nSubject: complaint\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="B2"\r\n\r\n'
        "--B2\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "--B2\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n\r\n"
        "--B2\r\nContent-Type: message/rfc822\r\n\r\n"
        + original_headers
        + "\r\n\r\nbody\r\n--B2--\r\n"
    ).encode()


def feed(port: int, rcpt: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("", [rcpt], data)


@pytest.fixture
def sent(admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks):
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )
    return {r.email: r for r in Recipient.objects.filter(mailing=mailing)}, smtp_server


@pytest.mark.django_db(transaction=True)
def test_hard_bounce_over_smtp_suppresses_after_one(sent, inbound, subscribed):
    rows, _ = sent
    sid = rows["sid@example.net"]
    feed(inbound, f"{tokens.verp_local(sid.pk)}@bounces.example.org", dsn("sid", "5.1.1"))
    subscribed["sid"].refresh_from_db()
    assert subscribed["sid"].email_status == "bouncing"
    assert Suppression.objects.filter(email_hash=email_hash("sid@example.net")).exists()
    assert Activity.objects.filter(
        person=subscribed["sid"], kind="email", summary__startswith="Hard bounce"
    ).exists()
    assert Event.objects.filter(recipient=sid, kind="bounce", hard=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_soft_bounces_suppress_only_after_n(sent, inbound, subscribed, settings):
    settings.CLARION_MAILINGS_SOFT_BOUNCES = 2
    rows, _ = sent
    address = f"{tokens.verp_local(rows['sid@example.net'].pk)}@bounces.example.org"
    feed(inbound, address, dsn("sid", "4.2.2"))
    subscribed["sid"].refresh_from_db()
    assert subscribed["sid"].email_status == "subscribed"
    feed(inbound, address, dsn("sid", "4.2.2"))
    subscribed["sid"].refresh_from_db()
    assert subscribed["sid"].email_status == "bouncing"


@pytest.mark.django_db(transaction=True)
def test_forged_bounce_address_suppresses_no_one(sent, inbound, subscribed):
    rows, _ = sent
    sid = rows["sid@example.net"]
    with smtplib.SMTP("127.0.0.1", inbound) as smtp:
        smtp.sendmail(
            "", [f"bounces+{sid.pk}-00000000000000000000@bounces.example.org"], dsn("sid", "5.1.1")
        )
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("", ["someone@elsewhere.example"], dsn("sid", "5.1.1"))
    subscribed["sid"].refresh_from_db()
    assert subscribed["sid"].email_status == "subscribed"
    assert not Suppression.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_arf_complaint_unsubscribes_at_once(sent, inbound, subscribed):
    rows, smtp_server = sent
    original = smtp_server.to("nora@example.net")[0]
    headers = "".join(
        f"{k}: {v}\r\n"
        for k, v in original.items()
        if k.lower() in ("from", "to", "subject", "message-id", "list-unsubscribe")
    ).rstrip("\r\n")
    feed(inbound, "fbl@bounces.example.org", arf(headers))
    subscribed["nora"].refresh_from_db()
    assert subscribed["nora"].email_status == "complained"
    assert Suppression.objects.filter(
        email_hash=email_hash("nora@example.net"), reason="complaint"
    ).exists()
    assert Activity.objects.filter(
        person=subscribed["nora"], summary__contains="Spam complaint"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_mailto_unsubscribe(sent, inbound, subscribed):
    rows, smtp_server = sent
    import re

    header = smtp_server.to("nell@example.net")[0]["List-Unsubscribe"]
    mailto = re.search(r"mailto:([^?>]+)", header).group(1)
    feed(inbound, mailto, b"Subject: unsubscribe\r\n\r\nunsubscribe\r\n")
    subscribed["nell"].refresh_from_db()
    assert subscribed["nell"].email_status == "unsubscribed"
