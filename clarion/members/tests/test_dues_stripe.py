"""Card dues through Stripe: Checkout in subscription mode against the loopback Stripe
stand-in, and webhooks signed exactly as Stripe signs them (t=<time>,v1=<hex HMAC-SHA256
of "<t>.<body>">)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from clarion.donations.tests.stripe_fake import FakeStripe
from clarion.members.models import Membership, MembershipChange, MembershipPayment

from .conftest import sign_in

SECRET = "whsec_members_0123456789"
URL = "/members/join/webhooks/stripe/"


@pytest.fixture
def fake_stripe():
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    settings.CLARION_STRIPE_SECRET_KEY = fake_stripe.secret_key
    settings.CLARION_STRIPE_API_BASE = fake_stripe.url
    settings.CLARION_STRIPE_MEMBERS_WEBHOOK_SECRET = SECRET
    return settings


def _sign(payload: bytes, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _post(client, event_type: str, obj: dict, event_id: str = "evt_1", signature=None):
    payload = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()
    return client.post(
        URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=_sign(payload) if signature is None else signature,
    )


def _meta(person, mtype) -> dict:
    return {"clarion_person_id": str(person.pk), "clarion_membership_type_id": str(mtype.pk)}


def _invoice(person, mtype, invoice_id: str, reason: str = "subscription_cycle", paid=500):
    # The 2025 shape: the subscription's metadata under parent.subscription_details.
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_paid": paid,
        "currency": "gbp",
        "billing_reason": reason,
        "status_transitions": {"paid_at": int(time.time())},
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_1", "metadata": _meta(person, mtype)},
        },
    }


@pytest.mark.django_db
def test_join_by_card_opens_a_checkout_subscription_at_the_types_rate(
    client, member, annual, fake_stripe, stripe_settings
):
    sign_in(client, member)
    response = client.post("/members/join/", {"membership_type": annual.pk, "pays_by": "card"})
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    [sent] = fake_stripe.requests
    assert (sent["method"], sent["path"]) == ("POST", "/v1/checkout/sessions")
    assert sent["headers"]["Idempotency-Key"].startswith(f"clarion-membership-{member.pk}-")
    form = sent["form"]
    assert form["mode"] == "subscription"
    assert form["line_items[0][price_data][unit_amount]"] == "4800"
    assert form["line_items[0][price_data][currency]"] == "gbp"
    assert form["line_items[0][price_data][recurring][interval]"] == "year"
    assert form["line_items[0][quantity]"] == "1"
    assert form["subscription_data[metadata][clarion_person_id]"] == str(member.pk)
    assert form["subscription_data[metadata][clarion_membership_type_id]"] == str(annual.pk)
    assert form["metadata[clarion_person_id]"] == str(member.pk)
    assert form["customer_email"] == "mo@example.net"
    assert form["success_url"].endswith("/members/join/thanks/?by=card")
    assert form["cancel_url"].endswith("/members/join/")


@pytest.mark.django_db
def test_checkout_then_invoices_make_and_renew_a_card_membership(
    client, member, standard, stripe_settings
):
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "mode": "subscription",
        "subscription": "sub_1",
        "metadata": _meta(member, standard),
    }
    assert _post(client, "checkout.session.completed", session).json()["outcome"] == "joined"
    assert Membership.objects.get(person=member).status == "pending"

    first = _invoice(member, standard, "in_1", reason="subscription_create")
    assert _post(client, "invoice.paid", first, "evt_2").json()["outcome"] == "payment received"
    membership = Membership.objects.get(person=member)
    assert (membership.status, membership.pays_by) == ("active", "card")
    renews = membership.renews_on

    second = _invoice(member, standard, "in_2")
    _post(client, "invoice.paid", second, "evt_3")
    _post(client, "invoice.paid", second, "evt_3")  # delivered twice
    membership.refresh_from_db()
    assert membership.renews_on > renews
    assert MembershipPayment.objects.filter(membership=membership).count() == 2
    assert MembershipChange.objects.filter(kind="renewed").count() == 1


@pytest.mark.django_db
def test_first_invoice_before_checkout_completed_still_joins(
    client, member, standard, stripe_settings
):
    first = _invoice(member, standard, "in_1", reason="subscription_create")
    assert _post(client, "invoice.paid", first).status_code == 200
    assert Membership.objects.get(person=member).status == "active"


@pytest.fixture
def card_member(client, member, standard, stripe_settings):
    _post(client, "invoice.paid", _invoice(member, standard, "in_1", "subscription_create"))
    return member


@pytest.mark.django_db
def test_failed_invoice_starts_grace_once(client, card_member, standard):
    failed = {**_invoice(card_member, standard, "in_9"), "amount_paid": 0}
    assert _post(client, "invoice.payment_failed", failed, "evt_9").json()["outcome"] == (
        "payment failed"
    )
    membership = Membership.objects.get(person=card_member)
    assert membership.status == "grace"
    _post(client, "invoice.payment_failed", failed, "evt_9")
    assert MembershipChange.objects.filter(kind="payment_failed").count() == 1


@pytest.mark.django_db
def test_subscription_deleted_cancels(client, card_member, standard):
    sub = {"id": "sub_1", "object": "subscription", "metadata": _meta(card_member, standard)}
    assert _post(client, "customer.subscription.deleted", sub).json()["outcome"] == (
        "membership cancelled"
    )
    assert Membership.objects.get(person=card_member).status == "cancelled"


@pytest.mark.django_db
def test_bad_signatures_are_refused_and_write_nothing(client, member, standard, stripe_settings):
    obj = _invoice(member, standard, "in_1", reason="subscription_create")
    payload = json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {"object": obj}}).encode()
    stale = int(time.time()) - 301
    for header in (
        "",
        "t=abc,v1=00",
        _sign(payload, secret="whsec_other"),
        _sign(payload, t=stale),
        _sign(payload + b" "),
    ):
        response = client.post(
            URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )
        assert response.status_code == 400, header
        assert response.json()["error"] == "Invalid signature."
    assert not Membership.objects.exists() and not MembershipPayment.objects.exists()


@pytest.mark.django_db
def test_well_signed_nonsense_is_a_400(client, stripe_settings):
    for payload in (b"not json", b"[1, 2]", b'{"type": "invoice.paid"}'):
        response = client.post(
            URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=_sign(payload)
        )
        assert response.status_code == 400, payload
        assert response.json()["error"].startswith("Invalid payload")


@pytest.mark.django_db
def test_events_of_other_subscriptions_are_acknowledged_and_ignored(client, stripe_settings):
    invoice = {"id": "in_x", "object": "invoice", "billing_reason": "subscription_cycle"}
    response = _post(client, "invoice.paid", invoice)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored: not a membership invoice"
