"""Stripe webhooks: signatures exactly as Stripe documents them, idempotency on event
id, and each event type the donations app handles."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from clarion.donations import services
from clarion.donations.gateways.stripe import SignatureError, signature_verify
from clarion.donations.models import Donation, RecurringPlan, WebhookEvent
from clarion.donations.selectors import page_totals
from clarion.people.models import Activity

from .conftest import WEBHOOK_SECRET

URL = "/donate/webhooks/stripe/"


def _sign(payload: bytes, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _event(event_type: str, obj: dict, event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def _post(client, payload: bytes, signature: str | None = None):
    return client.post(
        URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature if signature is not None else _sign(payload),
    )


# --- signature verification (no database) -------------------------------------------


def test_a_signature_made_as_stripe_documents_verifies():
    payload = b'{"id": "evt_1"}'
    signature_verify(payload=payload, header=_sign(payload), secret=WEBHOOK_SECRET)


def test_any_matching_v1_entry_is_accepted_and_v0_is_ignored():
    payload = b'{"id": "evt_1"}'
    t = int(time.time())
    good = _sign(payload, t=t).split("v1=")[1]
    header = f"t={t},v0={'0' * 64},v1={'f' * 64},v1={good}"
    signature_verify(payload=payload, header=header, secret=WEBHOOK_SECRET)


@pytest.mark.parametrize(
    "header, reason",
    [
        ("", "no Stripe-Signature header"),
        ("t=abc,v1=00", "no timestamp"),
        ("v1=" + "0" * 64, "no timestamp"),
        (f"t={int(time.time())}", "no v1 signature"),
        (f"t={int(time.time())},v0={'0' * 64}", "no v1 signature"),
    ],
)
def test_malformed_headers_are_rejected(header, reason):
    with pytest.raises(SignatureError, match=reason):
        signature_verify(payload=b"{}", header=header, secret=WEBHOOK_SECRET)


def test_without_a_configured_secret_nothing_verifies():
    payload = b'{"id": "evt_1"}'
    with pytest.raises(SignatureError, match="secret is not configured"):
        signature_verify(payload=payload, header=_sign(payload, secret=""), secret="")


def test_the_header_clarion_makes_for_the_demo_is_what_stripe_sends():
    from clarion.donations.gateways.stripe import signature_header

    payload = b'{"id": "evt_1", "amount": 100}'
    assert signature_header(payload=payload, secret=WEBHOOK_SECRET, timestamp=1700000000) == (
        _sign(payload, t=1700000000)
    )


def test_tampered_body_wrong_secret_and_stale_timestamp_are_rejected():
    payload = b'{"id": "evt_1", "amount": 100}'
    with pytest.raises(SignatureError, match="no signature matches"):
        signature_verify(
            payload=payload.replace(b"100", b"999"), header=_sign(payload), secret=WEBHOOK_SECRET
        )
    with pytest.raises(SignatureError, match="no signature matches"):
        signature_verify(
            payload=payload, header=_sign(payload, secret="whsec_other"), secret=WEBHOOK_SECRET
        )
    stale = int(time.time()) - 301
    with pytest.raises(SignatureError, match="tolerance"):
        signature_verify(payload=payload, header=_sign(payload, t=stale), secret=WEBHOOK_SECRET)
    signature_verify(
        payload=payload, header=_sign(payload, t=int(time.time()) - 290), secret=WEBHOOK_SECRET
    )


# --- the endpoint ------------------------------------------------------------------


@pytest.fixture
def stripe_donation(donation_page, north_person, stripe_settings):
    return services.donation_start(
        page=donation_page,
        person=north_person,
        amount_pence=2500,
        currency="GBP",
        recurring=False,
        attribution={"source": "mail"},
    ).donation


@pytest.fixture
def stripe_monthly(donation_page, north_person, stripe_settings):
    return services.donation_start(
        page=donation_page,
        person=north_person,
        amount_pence=1000,
        currency="GBP",
        recurring=True,
        attribution={},
    ).donation


def _session(donation, **extra) -> dict:
    obj = {
        "id": donation.gateway_checkout_id,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "status": "complete",
        "amount_total": donation.amount_pence,
        "currency": "gbp",
        "client_reference_id": str(donation.pk),
        "metadata": {"donation_id": str(donation.pk)},
        "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "subscription": None,
        "customer": None,
    }
    obj.update(extra)
    return obj


def test_checkout_completed_marks_the_donation_paid(client, stripe_donation, donation_page):
    response = _post(client, _event("checkout.session.completed", _session(stripe_donation)))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "outcome": "succeeded"}
    stripe_donation.refresh_from_db()
    assert stripe_donation.status == "succeeded"
    assert stripe_donation.gateway_payment_intent_id == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert page_totals(donation_page) == {"count": 1, "amount_pence": 2500}


def test_a_replayed_event_id_changes_nothing(client, stripe_donation, donation_page, north_person):
    payload = _event("checkout.session.completed", _session(stripe_donation), event_id="evt_same")
    assert _post(client, payload).json()["duplicate"] is False
    again = _post(client, payload)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert WebhookEvent.objects.filter(event_id="evt_same").count() == 1
    assert page_totals(donation_page)["count"] == 1
    assert Activity.objects.filter(person=north_person, kind="donation").count() == 1


@pytest.mark.parametrize("mangle", ["tampered", "wrong_secret", "stale", "missing"])
def test_bad_signatures_get_400_with_a_json_error_and_change_nothing(
    client, stripe_donation, mangle
):
    payload = _event("checkout.session.completed", _session(stripe_donation))
    signature = {
        "tampered": _sign(payload.replace(b'"paid"', b'"paid" ')),
        "wrong_secret": _sign(payload, secret="whsec_attacker"),
        "stale": _sign(payload, t=int(time.time()) - 600),
        "missing": "",
    }[mangle]
    response = _post(client, payload, signature)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid signature")
    stripe_donation.refresh_from_db()
    assert stripe_donation.status == "pending"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not json at all", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"id": "evt_x", "type": "charge.refunded"}', "needs an id, a type and data.object"),
        (b'{"id": 5, "type": "x", "data": {"object": {}}}', "needs an id"),
    ],
)
def test_well_signed_garbage_gets_400_with_a_json_error(client, stripe_settings, payload, message):
    response = _post(client, payload)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_webhook_refuses_get_and_unconfigured_secret(client, settings):
    assert client.get(URL).status_code == 405
    settings.CLARION_STRIPE_WEBHOOK_SECRET = ""
    response = client.post(URL, data=b"{}", content_type="application/json")
    assert response.status_code == 400 and "not configured" in response.json()["error"]


def test_a_session_for_another_donation_is_ignored(client, stripe_donation):
    forged = _session(stripe_donation, id="cs_test_someone_else")
    response = _post(client, _event("checkout.session.completed", forged))
    assert response.json()["outcome"].startswith("ignored")
    stripe_donation.refresh_from_db()
    assert stripe_donation.status == "pending"


def test_unknown_event_types_are_acknowledged(client, stripe_settings):
    response = _post(client, _event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert (
        response.status_code == 200 and response.json()["outcome"] == "ignored: event type not used"
    )


def test_payment_failed_marks_the_donation_failed(client, stripe_donation):
    intent = {
        "id": "pi_failed_1",
        "object": "payment_intent",
        "status": "requires_payment_method",
        "metadata": {"donation_id": str(stripe_donation.pk)},
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }
    assert _post(client, _event("payment_intent.payment_failed", intent)).status_code == 200
    stripe_donation.refresh_from_db()
    assert stripe_donation.status == "failed"
    assert stripe_donation.failure_reason == "Your card was declined."


def test_charge_refunded_marks_the_donation_refunded(
    client, stripe_donation, donation_page, north_person
):
    _post(client, _event("checkout.session.completed", _session(stripe_donation), "evt_paid"))
    charge = {
        "id": "ch_3MtwBwLkdIwHu7ix",
        "object": "charge",
        "amount": 2500,
        "amount_refunded": 1000,
        "refunded": False,
        "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "currency": "gbp",
    }
    _post(client, _event("charge.refunded", charge, "evt_partial"))
    assert page_totals(donation_page) == {"count": 1, "amount_pence": 1500}
    charge.update(amount_refunded=2500, refunded=True)
    _post(client, _event("charge.refunded", charge, "evt_full"))
    stripe_donation.refresh_from_db()
    assert stripe_donation.status == "refunded" and stripe_donation.refunded_pence == 2500
    assert page_totals(donation_page) == {"count": 0, "amount_pence": 0}
    assert Activity.objects.filter(
        person=north_person, summary__startswith="Refunded £25.00"
    ).exists()


def test_subscription_lifecycle_start_renewals_and_cancellation(
    client, stripe_monthly, donation_page, north_person
):
    session = _session(
        stripe_monthly,
        mode="subscription",
        payment_intent=None,
        subscription="sub_1MowQVLkdIwHu7ix",
        customer="cus_NffrFeUfNV2Hib",
        invoice="in_first",
    )
    assert (
        _post(client, _event("checkout.session.completed", session, "evt_a")).json()["outcome"]
        == "subscription started"
    )
    plan = RecurringPlan.objects.get()
    assert (plan.status, plan.gateway_subscription_id, plan.person) == (
        "active",
        "sub_1MowQVLkdIwHu7ix",
        north_person,
    )
    stripe_monthly.refresh_from_db()
    assert stripe_monthly.status == "succeeded" and stripe_monthly.plan == plan

    first_invoice = {
        "id": "in_first",
        "object": "invoice",
        "subscription": "sub_1MowQVLkdIwHu7ix",
        "amount_paid": 1000,
        "currency": "gbp",
        "billing_reason": "subscription_create",
        "charge": "ch_first",
        "payment_intent": "pi_first",
    }
    _post(client, _event("invoice.paid", first_invoice, "evt_b"))
    assert page_totals(donation_page)["count"] == 1  # the first payment is not counted twice

    # Newer API versions put the subscription under parent.subscription_details.
    renewal = {
        "id": "in_1NmQ2x",
        "object": "invoice",
        "amount_paid": 1000,
        "currency": "gbp",
        "billing_reason": "subscription_cycle",
        "charge": "ch_2nd",
        "payment_intent": "pi_2nd",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_1MowQVLkdIwHu7ix"},
        },
    }
    assert (
        _post(client, _event("invoice.paid", renewal, "evt_c")).json()["outcome"]
        == "renewal recorded"
    )
    # Stripe may send the same invoice again under a new event id: still one donation.
    _post(client, _event("invoice.paid", renewal, "evt_c_again"))
    assert page_totals(donation_page) == {"count": 2, "amount_pence": 2000}
    renewed = Donation.objects.get(gateway_invoice_id="in_1NmQ2x")
    assert (
        renewed.plan == plan
        and renewed.person == north_person
        and renewed.gateway_charge_id == "ch_2nd"
    )

    # A refund of a renewal's charge finds it by payment intent.
    refund = {
        "id": "ch_2nd",
        "object": "charge",
        "amount": 1000,
        "amount_refunded": 1000,
        "refunded": True,
        "payment_intent": "pi_2nd",
        "invoice": "in_1NmQ2x",
    }
    _post(client, _event("charge.refunded", refund, "evt_d"))
    renewed.refresh_from_db()
    assert renewed.status == "refunded"

    deleted = {"id": "sub_1MowQVLkdIwHu7ix", "object": "subscription", "status": "canceled"}
    assert (
        _post(client, _event("customer.subscription.deleted", deleted, "evt_e")).json()["outcome"]
        == "plan cancelled"
    )
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    assert (
        Activity.objects.filter(
            person=north_person, summary="Monthly donation of £10.00 stopped"
        ).count()
        == 1
    )


def test_webhook_url_is_named(stripe_settings):
    assert reverse("donations:stripe_webhook") == URL


def test_staff_stopping_a_stripe_plan_cancels_the_subscription_at_stripe(
    client, admin, stripe_monthly, fake_stripe, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    session = _session(
        stripe_monthly, mode="subscription", payment_intent=None, subscription="sub_stop_me"
    )
    _post(client, _event("checkout.session.completed", session, "evt_start"))
    plan = RecurringPlan.objects.get()
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("donations_staff:plan_cancel", args=[plan.pk]), {"reason": "donor asked"}
        )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    deletes = [r for r in fake_stripe.requests if r["method"] == "DELETE"]
    assert [r["path"] for r in deletes] == ["/v1/subscriptions/sub_stop_me"]
    # Stripe then confirms with customer.subscription.deleted: nothing more happens.
    deleted = {"id": "sub_stop_me", "object": "subscription", "status": "canceled"}
    assert (
        _post(client, _event("customer.subscription.deleted", deleted, "evt_gone")).status_code
        == 200
    )
    assert len([r for r in fake_stripe.requests if r["method"] == "DELETE"]) == 1


def test_a_body_that_is_not_utf8_is_refused_as_unsigned(client, stripe_settings):
    # Stripe signs UTF-8 JSON, so such bytes cannot be one of its deliveries, even
    # when someone holding the secret signed them.
    payload = b"\xff\xfe\x00garbage"
    response = _post(client, payload)
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid signature: the payload is not UTF-8 text."
    assert not WebhookEvent.objects.exists()
