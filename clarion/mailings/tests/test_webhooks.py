"""Provider webhooks (django-anymail tracking): a signed Mailgun webhook is mapped onto
the same suppression and timeline services as ``clarion inbound``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from clarion.mailings.models import Event, Recipient
from clarion.people.models import Activity, Suppression
from clarion.people.normalise import email_hash

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]

SIGNING_KEY = "whsec-clarion-test-0123456789abcdef"
URL = "/m/esp/mailgun/tracking/"
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


@pytest.fixture
def mailgun(settings):
    settings.CLARION_MAILINGS_ESP = "mailgun"
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    return settings


@pytest.fixture
def sent(admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks):
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )
    smtp_server.wait_for(3)
    return {a: m for m in smtp_server.messages for a in m.envelope_to}, mailing


def _payload(event: dict, key: str = SIGNING_KEY) -> str:
    """A Mailgun webhook body as Mailgun signs it: HMAC-SHA256 of timestamp + token."""
    timestamp, token = str(int(time.time())), "b" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {"timestamp": time.time(), "id": "evt-1", **event},
        }
    )


def _event(kind: str, message, **extra) -> dict:
    return {
        "event": kind,
        "recipient": message.envelope_to[0],
        "message": {"headers": {"message-id": message["Message-ID"].strip("<>")}},
        **extra,
    }


def _post(client, body):
    return client.post(URL, data=body, content_type="application/json")


def test_signed_permanent_failure_suppresses_like_a_dsn(client, mailgun, sent, subscribed):
    messages, _mailing = sent
    body = _payload(
        _event(
            "failed",
            messages["sid@example.net"],
            severity="permanent",
            **{
                "delivery-status": {
                    "code": 550,
                    "message": "5.1.1 The email account does not exist",
                    "description": "",
                }
            },
        )
    )
    assert _post(client, body).status_code == 200
    sid = subscribed["sid"]
    sid.refresh_from_db()
    assert sid.email_status == "bouncing"
    assert Suppression.objects.filter(email_hash=email_hash("sid@example.net")).exists()
    assert Activity.objects.filter(
        person=sid, kind="email", summary__startswith="Hard bounce"
    ).exists()
    assert (
        Event.objects.get(kind="bounce").detail
        == "5.1.1 Mailgun: 5.1.1 The email account does not exist"
    )
    nora = subscribed["nora"]
    nora.refresh_from_db()
    assert nora.email_status == "subscribed"


def test_repeated_deferrals_of_one_message_count_as_one_soft_bounce(
    client, mailgun, sent, subscribed, settings
):
    settings.CLARION_MAILINGS_SOFT_BOUNCES = 2
    messages, _mailing = sent
    for _ in range(3):
        body = _payload(
            _event(
                "failed",
                messages["sid@example.net"],
                severity="temporary",
                **{"delivery-status": {"code": 452, "message": "4.2.2 Mailbox full"}},
            )
        )
        assert _post(client, body).status_code == 200
    subscribed["sid"].refresh_from_db()
    assert subscribed["sid"].email_status == "subscribed"
    bounce = Event.objects.get(kind="bounce")
    assert (bounce.hard, bounce.detail) == (False, "4.2.2 Mailgun: 4.2.2 Mailbox full")


def test_complaint_and_unsubscribe_and_open(client, mailgun, sent, subscribed):
    messages, mailing = sent
    assert (
        _post(client, _payload(_event("complained", messages["nora@example.net"]))).status_code
        == 200
    )
    assert (
        _post(client, _payload(_event("unsubscribed", messages["nell@example.net"]))).status_code
        == 200
    )
    Recipient.objects.filter(mailing=mailing).update(sent_at=None)
    assert (
        _post(
            client,
            _payload(
                _event(
                    "opened", messages["sid@example.net"], **{"client-info": {"user-agent": HUMAN}}
                )
            ),
        ).status_code
        == 200
    )
    for key, status in (("nora", "complained"), ("nell", "unsubscribed"), ("sid", "subscribed")):
        subscribed[key].refresh_from_db()
        assert subscribed[key].email_status == status
    assert Suppression.objects.filter(email_hash=email_hash("nora@example.net")).exists()
    assert sorted(Event.objects.values_list("kind", flat=True)) == [
        "complaint",
        "open",
        "unsubscribe",
    ]
    assert Event.objects.get(kind="open").machine is False


def test_wrong_signature_changes_nothing(client, mailgun, sent, subscribed):
    messages, _mailing = sent
    body = _payload(_event("complained", messages["nora@example.net"]), key="not-the-key")
    assert _post(client, body).status_code == 400
    subscribed["nora"].refresh_from_db()
    assert subscribed["nora"].email_status == "subscribed" and not Event.objects.exists()


def test_event_for_another_address_than_the_message_was_sent_to_is_ignored(
    client, mailgun, sent, subscribed
):
    messages, _mailing = sent
    event = _event("complained", messages["nora@example.net"])
    event["recipient"] = "sid@example.net"
    assert _post(client, _payload(event)).status_code == 200
    for p in subscribed.values():
        p.refresh_from_db()
        assert p.email_status == "subscribed"
    assert not Event.objects.exists()


def test_provider_not_configured_is_not_found(client, settings, sent):
    settings.CLARION_MAILINGS_ESP = ""
    messages, _mailing = sent
    assert (
        _post(client, _payload(_event("complained", messages["nora@example.net"]))).status_code
        == 404
    )
    settings.CLARION_MAILINGS_ESP = "mailgun"
    assert (
        client.post(
            "/m/esp/postmark/tracking/", data="{}", content_type="application/json"
        ).status_code
        == 404
    )
