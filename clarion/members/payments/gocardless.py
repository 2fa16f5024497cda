"""Direct Debit dues through GoCardless, on the official ``gocardless_pro`` client.

Joining: a Billing Request asking for a mandate (Bacs), and a Billing Request Flow (the
hosted pages where the member gives their bank details) that sends them back to
``redirect_uri``. Once the Billing Request is fulfilled (the member came back, or the
``billing_requests``/``fulfilled`` webhook arrived, whichever is first) a subscription
for the type's rate and period is created on the new mandate, with an idempotency key
made from the Billing Request id, so the two paths create one subscription.

Webhooks are verified with ``gocardless_pro.webhooks.parse`` (HMAC-SHA256 of the raw
body keyed with the endpoint secret, hex, in ``Webhook-Signature``). Payment events
name only the payment; the person is found through the payment's subscription's
metadata, read from the API.

The client's address is ``CLARION_GOCARDLESS_API_BASE`` when set (the client's
``base_url`` option; tests point it at members/tests/gocardless_fake.py), otherwise
the ``CLARION_GOCARDLESS_ENVIRONMENT``'s.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import gocardless_pro
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from gocardless_pro import errors as gc_errors

from clarion.people.models import Person

from .. import membership as lifecycle
from ..models import Membership, MembershipType
from . import PERSON_KEY, DuesError, from_metadata, join_if_needed, metadata_for

logger = logging.getLogger(__name__)

PROVIDER = "gocardless"
TIMEOUT_SECONDS = 10
INTERVAL_UNIT = {MembershipType.Period.MONTHLY: "monthly", MembershipType.Period.ANNUAL: "yearly"}


def client() -> gocardless_pro.Client:
    token = settings.CLARION_GOCARDLESS_ACCESS_TOKEN
    if not token:
        logger.error("CLARION_GOCARDLESS_ACCESS_TOKEN is not set")
        raise DuesError(_("Direct Debit is not set up yet. Please try again later."))
    base = settings.CLARION_GOCARDLESS_API_BASE
    if base:
        return gocardless_pro.Client(access_token=token, base_url=base, timeout=TIMEOUT_SECONDS)
    return gocardless_pro.Client(
        access_token=token,
        environment=settings.CLARION_GOCARDLESS_ENVIRONMENT,
        timeout=TIMEOUT_SECONDS,
    )


def _dues_error(what: str, exc: Exception) -> DuesError:
    if isinstance(exc, gc_errors.ApiError):
        logger.warning("GoCardless %s answered %s: %s", what, exc.code, exc.message)
        return DuesError(_("The Direct Debit service turned the request down. Please try again."))
    logger.warning("GoCardless %s failed: %s", what, exc)
    return DuesError(_("The Direct Debit service is not answering. Please try again in a minute."))


_CLIENT_ERRORS = (gc_errors.GoCardlessProError, OSError, ValueError, KeyError)


@dataclass(frozen=True)
class FlowStart:
    billing_request_id: str
    redirect_url: str


def flow_start(
    *,
    person: Person,
    membership_type: MembershipType,
    redirect_uri_for,
    exit_uri: str,
) -> FlowStart:
    """Create the Billing Request (a Bacs mandate request carrying the person and type
    as metadata) and its hosted flow, prefilled with the person's name, email and
    postcode. ``redirect_uri_for(billing_request_id)`` gives the return address."""
    gc = client()
    metadata = metadata_for(person=person, membership_type=membership_type)
    try:
        request = gc.billing_requests.create(
            params={
                "mandate_request": {"scheme": "bacs", "currency": "GBP", "metadata": metadata},
                "metadata": metadata,
            }
        )
        customer = {
            k: v
            for k, v in (
                ("given_name", person.first_name),
                ("family_name", person.last_name),
                ("email", person.email),
            )
            if v
        }
        params: dict[str, Any] = {
            "redirect_uri": redirect_uri_for(request.id),
            "exit_uri": exit_uri,
            "links": {"billing_request": request.id},
        }
        if customer:
            params["prefilled_customer"] = customer
        if person.postcode:
            params.setdefault("prefilled_customer", {})["postal_code"] = person.postcode
        flow = gc.billing_request_flows.create(params=params)
    except _CLIENT_ERRORS as exc:
        raise _dues_error("start billing request flow", exc) from exc
    url = flow.authorisation_url or ""
    if not request.id or not url.startswith(("https://", "http://")):
        raise DuesError(_("The Direct Debit service gave an answer we could not read."))
    return FlowStart(billing_request_id=request.id, redirect_url=url)


def billing_request_complete(billing_request_id: str) -> str:
    """After the member's return or the ``fulfilled`` webhook: when the Billing Request
    is fulfilled, join the person (pending until the first payment) and create the
    subscription on its mandate. Idempotent: the subscription's idempotency key is the
    Billing Request id, and joining twice is a no-op. Returns the outcome; raises
    DuesError when GoCardless cannot be asked."""
    gc = client()
    try:
        request = gc.billing_requests.get(billing_request_id)
    except gc_errors.InvalidApiUsageError as exc:
        if exc.code == 404:
            return "ignored: unknown billing request"
        raise _dues_error("get billing request", exc) from exc
    except _CLIENT_ERRORS as exc:
        raise _dues_error("get billing request", exc) from exc
    if request.status != "fulfilled":
        return f"waiting: billing request {request.status}"
    person, mtype = from_metadata(request.metadata)
    mandate = getattr(request.links, "mandate_request_mandate", None)
    if person is None or mtype is None or not mandate:
        return "ignored: not a membership billing request"
    try:
        subscription = gc.subscriptions.create(
            params={
                "amount": mtype.rate_pence,
                "currency": "GBP",
                "interval_unit": INTERVAL_UNIT[mtype.period],
                "interval": 1,
                "name": mtype.name[:255],
                "metadata": metadata_for(person=person, membership_type=mtype),
                "links": {"mandate": mandate},
            },
            headers={"Idempotency-Key": f"clarion-membership-{billing_request_id}"},
        )
    except _CLIENT_ERRORS as exc:
        raise _dues_error("create subscription", exc) from exc
    # The idempotency key gives back the first subscription when this Billing Request
    # is finished again (a redelivered webhook): if Clarion stopped it since, the
    # member cancelled, and the old request must not make them a member again.
    if lifecycle.provider_subscription_stopped(provider=PROVIDER, subscription_id=subscription.id):
        return f"ignored: subscription {subscription.id} was stopped"
    joined = join_if_needed(person=person, membership_type=mtype, pays_by="direct_debit")
    lifecycle.membership_provider_set(
        person=person, provider=PROVIDER, subscription_id=subscription.id, mandate_id=mandate
    )
    logger.info("GoCardless subscription %s for person %s", subscription.id, person.pk)
    return f"{joined}; subscription {subscription.id}"


def subscription_cancel(subscription_id: str) -> str:
    """Stop ``subscription_id`` (Cancel a subscription: ``POST
    /subscriptions/{id}/actions/cancel``). Idempotent: one already cancelled or finished
    (``invalid_state``) or unknown to GoCardless (404) counts as stopped. Returns what
    happened; raises DuesError when GoCardless refused otherwise or could not be asked
    (the caller tries again later)."""
    try:
        client().subscriptions.cancel(
            subscription_id, params={"metadata": {"clarion_reason": "membership cancelled"}}
        )
    except gc_errors.InvalidStateError:
        return "already cancelled"
    except gc_errors.InvalidApiUsageError as exc:
        if exc.code == 404:
            return "not found"
        raise _dues_error("cancel subscription", exc) from exc
    except _CLIENT_ERRORS as exc:
        raise _dues_error("cancel subscription", exc) from exc
    return "cancelled"


def subscription_type_change(
    *, subscription_id: str, person: Person, membership_type: MembershipType
) -> dict[str, Any]:
    """Change the subscription's amount (and its name and metadata) to
    ``membership_type``'s (Update a subscription: ``PUT /subscriptions/{id}``). Its
    interval is left alone: the caller checked the type has the same period. Payments
    already created keep their amount. Returns detail for the history; raises
    DuesError with a message for the member when GoCardless refuses."""
    gc = client()
    try:
        current = gc.subscriptions.get(subscription_id)
        if current.status != "active":
            raise DuesError(
                _("Your Direct Debit is no longer collecting, so its amount cannot change.")
            )
        if current.interval_unit != INTERVAL_UNIT[membership_type.period]:
            raise DuesError(
                _("Your Direct Debit collects at another interval; cancel and join again.")
            )
        updated = gc.subscriptions.update(
            subscription_id,
            params={
                "amount": membership_type.rate_pence,
                "name": membership_type.name[:255],
                "metadata": metadata_for(person=person, membership_type=membership_type),
            },
        )
    except (gc_errors.ValidationFailedError, gc_errors.InvalidStateError) as exc:
        logger.warning("GoCardless update subscription refused: %s", exc.message)
        raise DuesError(
            _(
                "The Direct Debit service would not change the amount (%(why)s). "
                "Your membership type is unchanged."
            )
            % {"why": exc.message or _("no reason given")}
        ) from exc
    except _CLIENT_ERRORS as exc:
        raise _dues_error("update subscription", exc) from exc
    if int(updated.amount or 0) != membership_type.rate_pence:
        raise DuesError(_("The Direct Debit service gave an answer we could not read."))
    return {"provider": PROVIDER, "subscription": subscription_id, "amount_pence": updated.amount}


# --- Webhooks -------------------------------------------------------------------------


def _when(value: Any) -> dt.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is not None and timezone.is_aware(parsed) else timezone.now()


def _payment_owner(gc, payment_id: str) -> tuple[Any, Person | None]:
    payment = gc.payments.get(payment_id)
    subscription_id = getattr(payment.links, "subscription", None)
    if not subscription_id:
        return payment, None
    subscription = gc.subscriptions.get(subscription_id)
    person, _type = from_metadata(subscription.metadata)
    return payment, person


def _payment_paid(gc, event) -> str:
    payment, person = _payment_owner(gc, event.links.payment)
    if person is None:
        return "ignored: not a membership payment"
    lifecycle.membership_payment_received(
        person=person,
        amount_pence=int(payment.amount or 0),
        paid_at=_when(event.created_at),
        provider=PROVIDER,
        reference=payment.id,
    )
    return "payment received"


def _payment_failed(gc, event) -> str:
    payment, person = _payment_owner(gc, event.links.payment)
    if person is None:
        return "ignored: not a membership payment"
    current = Membership.objects.filter(person_id=person.pk).first()
    if current is not None and lifecycle.provider_subscription_is_old(
        current,
        provider=PROVIDER,
        subscription_id=getattr(payment.links, "subscription", None) or "",
    ):
        return "ignored: a payment of an earlier subscription"
    lifecycle.membership_payment_failed(
        person=person, provider=PROVIDER, reference=payment.id, failed_at=_when(event.created_at)
    )
    return "payment failed"


def _cancelled(
    person: Person | None,
    what: str,
    cause: str,
    *,
    action: str = "cancelled",
    subscription_id: str = "",
    mandate_id: str = "",
) -> str:
    if person is None:
        return "ignored: not a membership " + what
    current = Membership.objects.filter(person_id=person.pk).first()
    if current is None or current.pays_by != Membership.PaysBy.DIRECT_DEBIT:
        return "ignored: membership not paid by Direct Debit"
    if lifecycle.provider_subscription_is_old(
        current, provider=PROVIDER, subscription_id=subscription_id, mandate_id=mandate_id
    ):
        # The member cancelled and joined again since: this is about the old one.
        return f"ignored: an earlier {what}"
    lifecycle.membership_cancel(
        person=person,
        reason=_("Direct Debit %(what)s %(action)s at GoCardless (%(cause)s)")
        % {"what": what, "action": action, "cause": cause or "no reason given"},
    )
    return "membership cancelled"


def _subscription_cancelled(gc, event) -> str:
    subscription = gc.subscriptions.get(event.links.subscription)
    person, _type = from_metadata(subscription.metadata)
    return _cancelled(
        person,
        "subscription",
        getattr(event.details, "cause", ""),
        action=event.action,
        subscription_id=subscription.id,
    )


def _mandate_ended(gc, event) -> str:
    mandate = gc.mandates.get(event.links.mandate)
    person, _type = from_metadata(mandate.metadata)
    return _cancelled(
        person,
        "mandate",
        getattr(event.details, "cause", ""),
        action=event.action,
        mandate_id=mandate.id,
    )


def _billing_request_fulfilled(gc, event) -> str:
    return billing_request_complete(event.links.billing_request)


HANDLERS = {
    ("payments", "confirmed"): _payment_paid,
    ("payments", "paid_out"): _payment_paid,
    ("payments", "failed"): _payment_failed,
    ("subscriptions", "cancelled"): _subscription_cancelled,
    # A mandate cancelled, failed or expired collects nothing more: the Direct Debit
    # has ended, and with it the membership it paid for.
    ("mandates", "cancelled"): _mandate_ended,
    ("mandates", "failed"): _mandate_ended,
    ("mandates", "expired"): _mandate_ended,
    ("billing_requests", "fulfilled"): _billing_request_fulfilled,
}


def event_handle(event) -> str:
    """Handle one verified event (a ``gocardless_pro.resources.Event``). Each handler
    ends in an idempotent lifecycle service, so a redelivered event changes nothing.
    Raises DuesError when GoCardless cannot be asked (the webhook then answers 5xx and
    GoCardless delivers it again)."""
    handler = HANDLERS.get((event.resource_type, event.action))
    if handler is None:
        return "ignored: event not used"
    try:
        return handler(client(), event)
    except _CLIENT_ERRORS as exc:
        raise _dues_error(f"{event.resource_type} {event.action}", exc) from exc


__all__ = ["PERSON_KEY", "billing_request_complete", "event_handle", "flow_start"]
