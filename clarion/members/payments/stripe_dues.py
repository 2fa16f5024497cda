"""Card dues through Stripe, on the official ``stripe`` SDK (the same key and address
settings as donations: ``CLARION_STRIPE_SECRET_KEY``, ``CLARION_STRIPE_API_BASE``).

Joining: a Checkout Session in subscription mode whose ``price_data`` recurs each month
or year as the type does, carrying the person and type as metadata on the session and
(``subscription_data``) on the subscription, so every later invoice names them in
``subscription_details.metadata``.

Webhooks (``/members/join/webhooks/stripe/``) are verified with
``stripe.Webhook.construct_event`` against ``CLARION_STRIPE_MEMBERS_WEBHOOK_SECRET``
(or the donations endpoint's secret when that is unset).
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
import uuid
from typing import Any

import stripe
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.people.models import Person

from .. import membership as lifecycle
from ..models import Membership, MembershipType
from . import DuesError, from_metadata, join_if_needed, metadata_for

logger = logging.getLogger(__name__)

PROVIDER = "stripe"
TIMEOUT_SECONDS = 10
SIGNATURE_TOLERANCE_SECONDS = 300
INTERVAL = {MembershipType.Period.MONTHLY: "month", MembershipType.Period.ANNUAL: "year"}


def _client() -> stripe.StripeClient:
    key = settings.CLARION_STRIPE_SECRET_KEY
    if not key:
        logger.error("CLARION_STRIPE_SECRET_KEY is not set")
        raise DuesError(_("Card payments are not set up yet. Please try again later."))
    return stripe.StripeClient(
        key,
        base_addresses={"api": settings.CLARION_STRIPE_API_BASE.rstrip("/")},
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        max_network_retries=1,
    )


def webhook_secret() -> str:
    return settings.CLARION_STRIPE_MEMBERS_WEBHOOK_SECRET or settings.CLARION_STRIPE_WEBHOOK_SECRET


def checkout_params(
    *, person: Person, membership_type: MembershipType, success_url: str, cancel_url: str
) -> dict[str, Any]:
    """The parameters of Create a Checkout Session for joining; amounts in pence."""
    metadata = metadata_for(person=person, membership_type=membership_type)
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "gbp",
                    "unit_amount": membership_type.rate_pence,
                    "recurring": {"interval": INTERVAL[membership_type.period]},
                    "product_data": {
                        "name": (_("Membership: %(type)s") % {"type": membership_type.name})[:250]
                    },
                },
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(person.pk),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    if person.email:
        params["customer_email"] = person.email
    return params


def checkout_start(
    *, person: Person, membership_type: MembershipType, success_url: str, cancel_url: str
) -> str:
    """Create the Checkout Session; returns the address to send the member to."""
    client = _client()
    try:
        session = client.v1.checkout.sessions.create(
            params=checkout_params(  # type: ignore[arg-type]
                person=person,
                membership_type=membership_type,
                success_url=success_url,
                cancel_url=cancel_url,
            ),
            # One session per press of the button, even when the SDK retries it.
            options={"idempotency_key": f"clarion-membership-{person.pk}-{uuid.uuid4().hex}"},
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe create membership checkout: %s", exc.user_message or exc)
        if isinstance(exc, stripe.APIConnectionError):
            raise DuesError(
                _("The payment service is not answering. Please try again in a minute.")
            ) from exc
        raise DuesError(
            _("The payment service turned the request down. Please try again.")
        ) from exc
    url = getattr(session, "url", None)
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise DuesError(_("The payment service gave an answer we could not read."))
    return url


# --- Webhooks -------------------------------------------------------------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _when(value: Any) -> dt.datetime:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**33:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return timezone.now()


def _invoice_metadata(invoice: dict) -> dict:
    """The subscription's metadata as the invoice carries it (API versions from 2025
    move it under ``parent.subscription_details``)."""
    details = _dict(_dict(invoice.get("parent")).get("subscription_details"))
    return _dict(details.get("metadata")) or _dict(
        _dict(invoice.get("subscription_details")).get("metadata")
    )


def _checkout_completed(session: dict, event: dict) -> str:
    if session.get("mode") != "subscription":
        return "ignored: not a subscription"
    person, mtype = from_metadata(session.get("metadata"))
    if person is None or mtype is None:
        return "ignored: not a membership checkout"
    return join_if_needed(person=person, membership_type=mtype, pays_by="card")


def _invoice_paid(invoice: dict, event: dict) -> str:
    person, mtype = from_metadata(_invoice_metadata(invoice))
    invoice_id = _str(invoice.get("id"))
    if person is None or mtype is None or not invoice_id:
        return "ignored: not a membership invoice"
    if invoice.get("billing_reason") == "subscription_create":
        # The first invoice.paid may come before checkout.session.completed.
        join_if_needed(person=person, membership_type=mtype, pays_by="card")
    amount = invoice.get("amount_paid")
    transitions = _dict(invoice.get("status_transitions"))
    lifecycle.membership_payment_received(
        person=person,
        amount_pence=amount if isinstance(amount, int) and not isinstance(amount, bool) else 0,
        paid_at=_when(transitions.get("paid_at") or event.get("created")),
        provider=PROVIDER,
        reference=invoice_id,
    )
    return "payment received"


def _invoice_failed(invoice: dict, event: dict) -> str:
    person, _type = from_metadata(_invoice_metadata(invoice))
    invoice_id = _str(invoice.get("id"))
    if person is None or not invoice_id:
        return "ignored: not a membership invoice"
    if not Membership.objects.filter(person_id=person.pk).exists():
        return "ignored: no membership yet"
    lifecycle.membership_payment_failed(
        person=person,
        provider=PROVIDER,
        reference=invoice_id,
        failed_at=_when(event.get("created")),
    )
    return "payment failed"


def _subscription_deleted(subscription: dict, event: dict) -> str:
    person, _type = from_metadata(subscription.get("metadata"))
    if person is None:
        return "ignored: not a membership subscription"
    current = Membership.objects.filter(person_id=person.pk).first()
    if current is None or current.pays_by != Membership.PaysBy.CARD:
        return "ignored: membership not paid by card"
    lifecycle.membership_cancel(person=person, reason=_("Card subscription ended at Stripe"))
    return "membership cancelled"


HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_failed,
    "customer.subscription.deleted": _subscription_deleted,
}


class PayloadError(ValueError):
    """Well signed but not shaped like a Stripe event."""


def event_handle(event: dict) -> str:
    """Handle one verified event (as a plain dict). Each handler ends in an idempotent
    lifecycle service, so a redelivery changes nothing."""
    data = _dict(event.get("data"))
    obj = data.get("object")
    if not isinstance(event.get("type"), str) or not isinstance(obj, dict):
        raise PayloadError("the event needs a type and data.object")
    handler = HANDLERS.get(event["type"])
    return handler(obj, event) if handler else "ignored: event type not used"
