"""Handling of verified Stripe webhook events.

``event_handle`` runs inside one transaction together with the WebhookEvent row that
makes it idempotent: if handling fails, both roll back and Stripe's retry runs it
again; if it succeeds, a redelivery finds the row and does nothing.

Objects are matched to donations by the ids Clarion sent to Stripe: the Checkout
Session's ``metadata[donation_id]`` / ``client_reference_id`` (checked against the
stored session id), the PaymentIntent's ``metadata[donation_id]`` (set through
``payment_intent_data``), and stored payment intent, charge and subscription ids.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from .. import services
from ..models import Donation, RecurringPlan

logger = logging.getLogger(__name__)

GATEWAY = "stripe"


class PayloadError(ValueError):
    """The event is well signed but not shaped like a Stripe event."""


def _str(value: Any) -> str:
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _donation_from_metadata(obj: dict) -> Donation | None:
    metadata = _dict(obj.get("metadata"))
    donation_id = _int(metadata.get("donation_id")) or _int(obj.get("client_reference_id"))
    if donation_id is None:
        return None
    return Donation.objects.filter(pk=donation_id, gateway=GATEWAY).first()


def _subscription_of_invoice(invoice: dict) -> str:
    sub = _str(invoice.get("subscription"))
    if sub:
        return sub
    # API versions from 2025 move it under parent.subscription_details.
    details = _dict(_dict(invoice.get("parent")).get("subscription_details"))
    return _str(details.get("subscription"))


def _checkout_completed(session: dict) -> str:
    donation = _donation_from_metadata(session)
    if donation is None or donation.gateway_checkout_id != _str(session.get("id")):
        return "ignored: no matching donation"
    if session.get("mode") == "subscription":
        services.donation_succeed(
            donation_id=donation.pk,
            subscription_id=_str(session.get("subscription")),
            invoice_id=_str(session.get("invoice")),
            customer_id=_str(session.get("customer")),
        )
        return "subscription started"
    if session.get("payment_status") in ("paid", "no_payment_required"):
        services.donation_succeed(
            donation_id=donation.pk, payment_intent_id=_str(session.get("payment_intent"))
        )
        return "succeeded"
    # Delayed payment methods (bank debits) complete later with
    # checkout.session.async_payment_succeeded.
    return "waiting for payment"


def _payment_failed(intent: dict) -> str:
    donation = _donation_from_metadata(intent)
    intent_id = _str(intent.get("id"))
    if donation is None and intent_id:
        donation = Donation.objects.filter(
            gateway=GATEWAY, gateway_payment_intent_id=intent_id
        ).first()
    if donation is None:
        return "ignored: no matching donation"
    error = _dict(intent.get("last_payment_error"))
    reason = _str(error.get("message")) or _str(error.get("code")) or "payment failed"
    services.donation_fail(donation_id=donation.pk, reason=reason, payment_intent_id=intent_id)
    return "failed"


def _charge_refunded(charge: dict) -> str:
    charge_id, intent_id, invoice_id = (
        _str(charge.get("id")),
        _str(charge.get("payment_intent")),
        _str(charge.get("invoice")),
    )
    qs = Donation.objects.filter(gateway=GATEWAY)
    donation = None
    if intent_id:
        donation = qs.filter(gateway_payment_intent_id=intent_id).first()
    if donation is None and charge_id:
        donation = qs.filter(gateway_charge_id=charge_id).first()
    if donation is None and invoice_id:
        donation = qs.filter(gateway_invoice_id=invoice_id).first()
    if donation is None:
        return "ignored: no matching donation"
    refunded = _int(charge.get("amount_refunded"))
    if refunded is None:
        refunded = donation.amount_pence if charge.get("refunded") is True else 0
    services.donation_refund_record(donation_id=donation.pk, refunded_pence=refunded)
    return "refunded"


def _invoice_paid(invoice: dict) -> str:
    invoice_id = _str(invoice.get("id"))
    subscription_id = _subscription_of_invoice(invoice)
    if not invoice_id or not subscription_id:
        return "ignored: not a subscription invoice"
    plan = RecurringPlan.objects.filter(
        gateway=GATEWAY, gateway_subscription_id=subscription_id
    ).first()
    if invoice.get("billing_reason") == "subscription_create":
        # The first payment is the donation the checkout session completed; note its
        # invoice id so a refund of it can be matched.
        if plan is not None:
            first = plan.donations.order_by("pk").first()
            if first is not None and not first.gateway_invoice_id:
                Donation.objects.filter(pk=first.pk).update(
                    gateway_invoice_id=invoice_id,
                    gateway_charge_id=_str(invoice.get("charge")) or first.gateway_charge_id,
                    gateway_payment_intent_id=_str(invoice.get("payment_intent"))
                    or first.gateway_payment_intent_id,
                )
        return "first invoice"
    if plan is None:
        return "ignored: unknown subscription"
    amount = _int(invoice.get("amount_paid"))
    services.plan_renewal_record(
        plan=plan,
        invoice_id=invoice_id,
        amount_pence=amount if amount and amount > 0 else None,
        currency=_str(invoice.get("currency")),
        payment_intent_id=_str(invoice.get("payment_intent")),
        charge_id=_str(invoice.get("charge")),
    )
    return "renewal recorded"


def _subscription_deleted(subscription: dict) -> str:
    plan = RecurringPlan.objects.filter(
        gateway=GATEWAY, gateway_subscription_id=_str(subscription.get("id"))
    ).first()
    if plan is None:
        return "ignored: unknown subscription"
    services.plan_cancel(plan=plan, reason="cancelled at Stripe")
    return "plan cancelled"


HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "payment_intent.payment_failed": _payment_failed,
    "charge.refunded": _charge_refunded,
    "invoice.paid": _invoice_paid,
    "customer.subscription.deleted": _subscription_deleted,
}


def event_handle(event: Any) -> tuple[bool, str]:
    """Handle one verified event; returns (first time seen, outcome).

    Raises PayloadError when the JSON is not an event. Unknown event types are
    recorded and acknowledged, as Stripe recommends.
    """
    if not isinstance(event, dict):
        raise PayloadError("the payload is not a JSON object")
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if (
        not isinstance(event_id, str)
        or not event_id
        or not isinstance(event_type, str)
        or not isinstance(obj, dict)
    ):
        raise PayloadError("the event needs an id, a type and data.object")
    with transaction.atomic():
        record = services.webhook_event_claim(gateway=GATEWAY, event_id=event_id, type=event_type)
        if record is None:
            return False, "already processed"
        handler = HANDLERS.get(event_type)
        outcome = handler(obj) if handler else "ignored: event type not used"
        record.processed = True
        record.outcome = outcome[:200]
        record.save(update_fields=["processed", "outcome"])
    logger.info("Stripe event %s (%s): %s", event_id, event_type, outcome)
    return True, outcome
