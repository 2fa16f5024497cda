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


# --- The member's subscription -----------------------------------------------------------


def _refused(what: str, exc: stripe.StripeError) -> DuesError:
    logger.warning("Stripe %s: %s", what, exc.user_message or exc)
    if isinstance(exc, stripe.APIConnectionError):
        return DuesError(_("The payment service is not answering. Please try again in a minute."))
    return DuesError(_("The payment service turned the request down. Please try again."))


def subscription_cancel(subscription_id: str) -> str:
    """Cancel ``subscription_id`` now (``DELETE /v1/subscriptions/{id}``). Idempotent:
    Stripe answers 404 for one already cancelled (a cancelled subscription is gone for
    updates), which counts as stopped. Returns what happened; raises DuesError when
    Stripe refused otherwise or could not be asked (the caller tries again later)."""
    client = _client()
    try:
        client.v1.subscriptions.cancel(
            subscription_id,
            options={"idempotency_key": f"clarion-membership-stop-{subscription_id}"},
        )
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return "already cancelled"
        raise _refused("cancel subscription", exc) from exc
    except stripe.StripeError as exc:
        raise _refused("cancel subscription", exc) from exc
    return "cancelled"


def subscription_type_change(
    *, subscription_id: str, person: Person, membership_type: MembershipType
) -> dict[str, Any]:
    """Move the subscription's one item to a price of ``membership_type``'s rate (inline
    ``price_data`` on the item's own product, as Checkout made it), from the next
    invoice on (no proration), and its metadata to the new type. The interval must
    stay: the caller checked the type has the same period, and Stripe's answer is
    checked too. Returns detail for the history; raises DuesError when Stripe refuses."""
    client = _client()
    interval = INTERVAL[membership_type.period]
    try:
        current = client.v1.subscriptions.retrieve(subscription_id).to_dict()
        items = _dict(current.get("items")).get("data") or []
        if current.get("status") not in ("active", "past_due", "trialing") or len(items) != 1:
            raise DuesError(_("Your card subscription cannot be changed; cancel and join again."))
        item = _dict(items[0])
        price = _dict(item.get("price"))
        if _dict(price.get("recurring")).get("interval") != interval:
            raise DuesError(_("Your card is charged at another interval; cancel and join again."))
        updated = client.v1.subscriptions.update(
            subscription_id,
            params={
                "items": [
                    {
                        "id": _str(item.get("id")),
                        "price_data": {
                            "currency": "gbp",
                            "product": _str(price.get("product")),
                            "unit_amount": membership_type.rate_pence,
                            "recurring": {"interval": interval},
                        },
                    }
                ],
                "proration_behavior": "none",
                "metadata": metadata_for(person=person, membership_type=membership_type),
            },  # type: ignore[arg-type]
            options={
                "idempotency_key": f"clarion-membership-type-{subscription_id}-{uuid.uuid4().hex}"
            },
        ).to_dict()
    except stripe.StripeError as exc:
        raise _refused("change subscription", exc) from exc
    new_items = _dict(updated.get("items")).get("data") or []
    new_price = _dict(_dict(new_items[0]).get("price")) if new_items else {}
    if new_price.get("unit_amount") != membership_type.rate_pence:
        raise DuesError(_("The payment service gave an answer we could not read."))
    return {
        "provider": PROVIDER,
        "subscription": subscription_id,
        "amount_pence": membership_type.rate_pence,
    }


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


def _invoice_subscription(invoice: dict) -> str:
    """The invoice's subscription id (under ``parent.subscription_details`` from 2025,
    ``subscription`` before)."""
    details = _dict(_dict(invoice.get("parent")).get("subscription_details"))
    return _str(details.get("subscription")) or _str(invoice.get("subscription"))


def _stopped(subscription_id: str) -> bool:
    return bool(subscription_id) and lifecycle.provider_subscription_stopped(
        provider=PROVIDER, subscription_id=subscription_id
    )


def _join_and_store(person: Person, mtype: MembershipType, subscription_id: str) -> str:
    joined = join_if_needed(person=person, membership_type=mtype, pays_by="card")
    if subscription_id:
        lifecycle.membership_provider_set(
            person=person, provider=PROVIDER, subscription_id=subscription_id
        )
    return joined


def _checkout_completed(session: dict, event: dict) -> str:
    if session.get("mode") != "subscription":
        return "ignored: not a subscription"
    person, mtype = from_metadata(session.get("metadata"))
    if person is None or mtype is None:
        return "ignored: not a membership checkout"
    subscription_id = _str(session.get("subscription"))
    if _stopped(subscription_id):
        # A late or repeated event of a subscription the member has since cancelled.
        return "ignored: subscription was stopped"
    return _join_and_store(person, mtype, subscription_id)


def _invoice_paid(invoice: dict, event: dict) -> str:
    person, mtype = from_metadata(_invoice_metadata(invoice))
    invoice_id = _str(invoice.get("id"))
    if person is None or mtype is None or not invoice_id:
        return "ignored: not a membership invoice"
    subscription_id = _invoice_subscription(invoice)
    if invoice.get("billing_reason") == "subscription_create" and not _stopped(subscription_id):
        # The first invoice.paid may come before checkout.session.completed.
        _join_and_store(person, mtype, subscription_id)
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
    current = Membership.objects.filter(person_id=person.pk).first()
    if current is None:
        return "ignored: no membership yet"
    if lifecycle.provider_subscription_is_old(
        current, provider=PROVIDER, subscription_id=_invoice_subscription(invoice)
    ):
        return "ignored: an invoice of an earlier subscription"
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
    if lifecycle.provider_subscription_is_old(
        current, provider=PROVIDER, subscription_id=_str(subscription.get("id"))
    ):
        # The member cancelled and joined again since: this is about the old one.
        return "ignored: an earlier subscription"
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
