"""Webhooks: signed deliveries reach a real HTTP server on loopback, failures are retried
with backoff and logged on the staff pages, which only admins reach."""

from __future__ import annotations

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clarion.actions.tests.conftest import make_page
from clarion.actions.tests.test_submit import sign
from clarion.api.models import Webhook, WebhookDelivery
from clarion.api.webhooks import (
    SIGNATURE_HEADER,
    delivery_attempt,
    retry_delay,
    signature_valid,
)
from clarion.core.testing import factories
from clarion.people.models import EmailStatus
from clarion.people.services import email_status_set

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP server on 127.0.0.1 recording each POST and answering from ``answers``
    (an int status, or "slow" to stall past the client's timeout); 200 when empty."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.requests: list[dict] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = receiver.answers.pop(0) if receiver.answers else 200
                with receiver.arrived:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    receiver.arrived.notify_all()
                if answer == "slow":
                    time.sleep(2)
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def run_worker():
    call_command("worker", "--batch")


def create_webhook(admin_client, url, event_type="signature") -> Webhook:
    response = admin_client.post(
        reverse("api_staff:webhooks"),
        {"name": "CRM sync", "url": url, "event_type": event_type, "is_active": "on"},
    )
    assert response.status_code == 302
    return Webhook.objects.get(url=url, event_type=event_type)


def test_a_signature_on_the_public_page_reaches_the_receiver_signed(admin_client, receiver):
    webhook = create_webhook(admin_client, receiver.url)
    page = admin_client.get(reverse("api_staff:webhook_edit", kwargs={"pk": webhook.pk}))
    assert webhook.secret in page.content.decode()  # shown to the admin who set it up

    petition = make_page()
    public = Client()
    assert sign(public, petition, email_consent="on").status_code == 302
    assert receiver.requests == []  # queued, not sent during the supporter's request
    run_worker()

    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["Content-Type"] == "application/json"
    assert signature_valid(webhook.secret, body, headers[SIGNATURE_HEADER])
    [event] = json.loads(body)
    signature = event["osdi:signature"]
    submission_id = petition.submissions.get().pk
    assert f"clarion:{submission_id}" in signature["identifiers"]
    assert signature["person"]["email_addresses"][0]["address"] == "ada@example.net"
    assert signature["person"]["given_name"] == "Ada"
    assert signature["_links"]["osdi:person"]["href"].startswith("http")
    assert event["action_network:sponsor"]["title"]
    assert headers["Idempotency-Key"] == event["idempotency_key"]

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    log = admin_client.get(reverse("api_staff:webhook_deliveries")).content.decode()
    assert f"signature:{submission_id}" in log and "Delivered" in log

    # The task running again (a duplicate queue entry, a second worker) sends nothing more.
    assert delivery_attempt(delivery_id=delivery.pk) == "not due"
    run_worker()
    assert len(receiver.requests) == 1


def test_a_forged_or_altered_delivery_fails_verification(admin_client, receiver):
    webhook = create_webhook(admin_client, receiver.url)
    sign(Client(), make_page())
    run_worker()
    [request] = receiver.requests
    body, header = request["body"], request["headers"][SIGNATURE_HEADER]
    assert header.startswith("sha256=")
    assert signature_valid(webhook.secret, body, header)
    tampered = body.replace(b"ada@example.net", b"eve@example.net")
    assert not signature_valid(webhook.secret, tampered, header)
    assert not signature_valid("not-the-secret", body, header)
    assert not signature_valid(webhook.secret, body, "sha256=" + "0" * 64)
    assert not signature_valid(webhook.secret, body, "")


def test_a_failed_delivery_is_retried_with_backoff_then_delivered(admin_client, receiver, settings):
    settings.CLARION_WEBHOOK_RETRY_SECONDS = 1
    receiver.answers = [500]
    create_webhook(admin_client, receiver.url)
    sign(Client(), make_page())
    run_worker()

    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 1
    assert delivery.status == WebhookDelivery.Status.RETRYING
    assert delivery.attempts == 1 and delivery.last_status_code == 500
    assert "500" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()
    log = admin_client.get(reverse("api_staff:webhook_deliveries")).content.decode()
    assert "Will retry" in log and "HTTP 500" in log

    run_worker()  # not due yet: nothing is sent early
    assert len(receiver.requests) == 1
    time.sleep(max((delivery.next_attempt_at - timezone.now()).total_seconds(), 0) + 0.2)
    run_worker()

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 2 and delivery.last_status_code == 200
    first, second = receiver.requests
    assert first["body"] == second["body"]  # the same bytes, signature and key each time
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    assert first["headers"][SIGNATURE_HEADER] == second["headers"][SIGNATURE_HEADER]


def test_backoff_doubles_and_an_unreachable_receiver_is_given_up_on(admin_client, settings):
    settings.CLARION_WEBHOOK_RETRY_SECONDS = 60
    settings.CLARION_WEBHOOK_MAX_ATTEMPTS = 2
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there now: connection refused
    create_webhook(admin_client, url)
    sign(Client(), make_page())
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.RETRYING
    assert "Refused" in delivery.last_error or "refused" in delivery.last_error
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < wait <= 60
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(30).total_seconds() == 6 * 3600  # capped

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempts == 2
    log = admin_client.get(reverse("api_staff:webhook_deliveries"), {"status": "failed"})
    assert "Gave up" in log.content.decode()

    # Staff can send it again once the receiver is fixed.
    revived = Receiver()
    try:
        Webhook.objects.update(url=revived.url)
        response = admin_client.post(
            reverse("api_staff:webhook_delivery_retry", kwargs={"pk": delivery.pk})
        )
        assert response.status_code == 302
        run_worker()
        delivery.refresh_from_db()
        assert delivery.status == WebhookDelivery.Status.DELIVERED
        assert len(revived.requests) == 1
    finally:
        revived.close()


def test_a_receiver_that_times_out_is_retried(admin_client, receiver, settings):
    settings.CLARION_WEBHOOK_TIMEOUT = 0.5
    receiver.answers = ["slow"]
    create_webhook(admin_client, receiver.url)
    sign(Client(), make_page())
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.RETRYING
    assert "timed out" in delivery.last_error.lower() or "timeout" in delivery.last_error.lower()


def test_no_webhook_or_a_turned_off_one_means_no_deliveries(admin_client, receiver):
    sign(Client(), make_page())
    assert WebhookDelivery.objects.count() == 0
    webhook = create_webhook(admin_client, receiver.url)
    admin_client.post(reverse("api_staff:webhook_toggle", kwargs={"pk": webhook.pk}))
    webhook.refresh_from_db()
    assert webhook.is_active is False
    sign(Client(), make_page(slug="second", title="Second"))
    run_worker()
    assert WebhookDelivery.objects.count() == 0 and receiver.requests == []


def test_a_webhook_gets_only_its_own_event_type(admin_client, receiver):
    create_webhook(admin_client, receiver.url, event_type="donation")
    sign(Client(), make_page())
    run_worker()
    assert receiver.requests == [] and WebhookDelivery.objects.count() == 0


def test_unsubscribe_and_person_signup_are_delivered(admin_client, receiver, areas):
    unsub = create_webhook(admin_client, receiver.url, event_type="unsubscribe")
    signup = create_webhook(admin_client, receiver.url + "/signup", event_type="person_signup")
    person = factories.person(
        postcode=areas.postcodes["north"], email="una@example.net", first_name="Una"
    )
    email_status_set(person=person, status=EmailStatus.SUBSCRIBED)
    email_status_set(person=person, status=EmailStatus.UNSUBSCRIBED, reason="one-click")
    run_worker()
    bodies = {r["headers"]["X-Clarion-Event"]: r for r in receiver.requests}
    assert set(bodies) == {"unsubscribe", "person_signup"}
    [event] = json.loads(bodies["unsubscribe"]["body"])
    assert event["clarion:unsubscribe"]["email_status"] == "unsubscribed"
    assert event["clarion:unsubscribe"]["person"]["email_addresses"][0]["address"] == (
        "una@example.net"
    )
    assert signature_valid(
        unsub.secret,
        bodies["unsubscribe"]["body"],
        bodies["unsubscribe"]["headers"][SIGNATURE_HEADER],
    )
    [event] = json.loads(bodies["person_signup"]["body"])
    assert event["action_network:action"]["person"]["given_name"] == "Una"
    assert signature_valid(
        signup.secret,
        bodies["person_signup"]["body"],
        bodies["person_signup"]["headers"][SIGNATURE_HEADER],
    )


def test_webhook_pages_are_for_admins_only(client, organiser, admin, receiver):
    webhook = Webhook.objects.create(url=receiver.url, event_type="signature", secret="topsecret")
    client.force_login(organiser)
    for name, kwargs in [
        ("api_staff:webhooks", {}),
        ("api_staff:webhook_deliveries", {}),
        ("api_staff:webhook_edit", {"pk": webhook.pk}),
    ]:
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 403
        assert "topsecret" not in response.content.decode()
    response = client.post(
        reverse("api_staff:webhooks"),
        {"url": "https://evil.example.org/", "event_type": "signature", "is_active": "on"},
    )
    assert response.status_code == 403
    assert (
        client.post(reverse("api_staff:webhook_toggle", kwargs={"pk": webhook.pk})).status_code
        == 403
    )
    assert (
        client.post(reverse("api_staff:webhook_secret", kwargs={"pk": webhook.pk})).status_code
        == 403
    )
    webhook.refresh_from_db()
    assert webhook.is_active and webhook.secret == "topsecret"
    assert Webhook.objects.count() == 1


def test_admin_edits_a_webhook_and_bad_input_is_a_form_error(admin_client, receiver):
    webhook = create_webhook(admin_client, receiver.url)
    old_secret = webhook.secret
    response = admin_client.post(
        reverse("api_staff:webhook_edit", kwargs={"pk": webhook.pk}),
        {"url": "ftp://files.example.org/", "event_type": "signature", "is_active": "on"},
    )
    assert response.status_code == 400
    assert "http:// or https://" in response.content.decode()
    response = admin_client.post(
        reverse("api_staff:webhook_edit", kwargs={"pk": webhook.pk}),
        {"url": receiver.url, "event_type": "donation", "name": "Gifts", "is_active": "on"},
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.event_type == "donation" and webhook.name == "Gifts"
    admin_client.post(reverse("api_staff:webhook_secret", kwargs={"pk": webhook.pk}))
    webhook.refresh_from_db()
    assert webhook.secret != old_secret and len(webhook.secret) == 64
    listing = admin_client.get(reverse("api_staff:webhooks")).content.decode()
    assert "Gifts" in listing and receiver.url in listing
    nav = admin_client.get(reverse("api_staff:keys")).content.decode()
    assert reverse("api_staff:webhooks") in nav


def test_an_rsvp_on_the_public_event_page_is_delivered_once(admin_client, receiver, areas):
    from clarion.events.tests.conftest import make_event, rsvp_post

    webhook = create_webhook(admin_client, receiver.url, event_type="attendance")
    event = make_event(area=areas.leeds_central, capacity=10)
    assert rsvp_post(Client(), event).status_code in (200, 302)
    run_worker()
    [request] = receiver.requests
    assert signature_valid(webhook.secret, request["body"], request["headers"][SIGNATURE_HEADER])
    [payload] = json.loads(request["body"])
    rsvp = event.rsvps.get()
    assert f"clarion:{rsvp.pk}" in payload["osdi:attendance"]["identifiers"]
    assert payload["osdi:attendance"]["person"]["email_addresses"][0]["address"] == (
        "ada@example.net"
    )
    # Another timeline entry about the same RSVP (here: cancelling) sends nothing new.
    from clarion.events.services import rsvp_cancel

    rsvp_cancel(rsvp=rsvp)
    run_worker()
    assert len(receiver.requests) == 1


def test_a_succeeded_donation_is_delivered(admin_client, receiver):
    from clarion.actions.models import ActionPage
    from clarion.donations import services as donations

    webhook = create_webhook(admin_client, receiver.url, event_type="donation")
    page = ActionPage.objects.create(kind="donation", slug="fund", title="Fund", status="live")
    person = factories.person(email="rhi@example.net", first_name="Rhiannon")
    donation = donations.donation_start(
        page=page,
        person=person,
        amount_pence=1250,
        currency="GBP",
        recurring=False,
        attribution={},
    ).donation
    run_worker()
    assert receiver.requests == []  # started, not paid: nothing yet
    donations.donation_succeed(donation_id=donation.pk)
    donations.donation_succeed(donation_id=donation.pk)  # a repeated gateway call
    run_worker()
    [request] = receiver.requests
    assert signature_valid(webhook.secret, request["body"], request["headers"][SIGNATURE_HEADER])
    [payload] = json.loads(request["body"])
    assert f"clarion:{donation.pk}" in payload["osdi:donation"]["identifiers"]
    assert payload["osdi:donation"]["person"]["given_name"] == "Rhiannon"


def test_a_form_submission_goes_to_submission_webhooks_not_signature_ones(admin_client, receiver):
    from clarion.actions.models import ActionPage

    signatures = Receiver()
    try:
        create_webhook(admin_client, signatures.url, event_type="signature")
        webhook = create_webhook(admin_client, receiver.url, event_type="submission")
        form = make_page(kind=ActionPage.Kind.SIGNUP, slug="join-us", title="Join us")
        sign(Client(), form)
        run_worker()
        assert signatures.requests == []
        [request] = receiver.requests
        assert signature_valid(
            webhook.secret, request["body"], request["headers"][SIGNATURE_HEADER]
        )
        [payload] = json.loads(request["body"])
        assert f"clarion:{form.submissions.get().pk}" in payload["osdi:submission"]["identifiers"]
    finally:
        signatures.close()


def test_erasing_a_person_deletes_their_deliveries_and_a_queued_one_is_never_sent(
    admin_client, admin, receiver, settings
):
    from clarion.core.privacy import export_person
    from clarion.people.models import Person
    from clarion.people.services import person_erase

    settings.CLARION_WEBHOOK_RETRY_SECONDS = 3600
    receiver.answers = [500]
    create_webhook(admin_client, receiver.url)
    sign(Client(), make_page())
    run_worker()  # first attempt fails; the retry waits an hour
    delivery = WebhookDelivery.objects.get()
    person = Person.objects.get(pk=delivery.person_id)
    exported = export_person(person)["webhooks"]["webhook_deliveries"]
    assert [d["event_type"] for d in exported] == ["signature"]
    person_erase(person=person, actor=admin)
    assert WebhookDelivery.objects.count() == 0
    assert delivery_attempt(delivery_id=delivery.pk) == "not due"
    assert len(receiver.requests) == 1


def test_webhooks_retry_command_sends_deliveries_a_dead_worker_left_behind(admin_client, receiver):
    from io import StringIO

    webhook = create_webhook(admin_client, receiver.url, event_type="person_signup")
    person = factories.person(email="left@example.net")
    # A worker claimed this delivery and died mid-POST: its claim ran out a minute ago.
    stale = WebhookDelivery.objects.create(
        webhook=webhook,
        event_type="person_signup",
        event_key=f"person_signup:{person.pk}:stale",
        object_id=person.pk,
        person_id=person.pk,
        status=WebhookDelivery.Status.SENDING,
        attempts=1,
        claimed_until=timezone.now() - datetime.timedelta(minutes=1),
    )
    out = StringIO()
    call_command("webhooks_retry", stdout=out)
    assert "queued=" in out.getvalue() and out.getvalue().strip() != "queued=0"
    run_worker()
    stale.refresh_from_db()
    assert stale.status == WebhookDelivery.Status.DELIVERED and stale.attempts == 2
    assert any(
        json.loads(r["body"])[0]["action_network:action"]["person"]["email_addresses"][0]["address"]
        == "left@example.net"
        for r in receiver.requests
    )
