"""Stripe: Checkout Sessions out, signed webhooks in, through the official ``stripe`` SDK.

Each gateway talks through its own ``stripe.StripeClient`` (never the SDK's global
``stripe.api_key``), whose API address is ``CLARION_STRIPE_API_BASE`` so tests can point
it at a loopback stand-in that speaks Stripe's wire format (donations/tests/stripe_fake.py).
Webhook signatures are checked by ``stripe.WebhookSignature.verify_header``. The SDK's
errors become a GatewayError whose message a donor can read; the detail goes to the log.
"""

from __future__ import annotations

import functools
import logging
import urllib.parse
from typing import Any

import stripe
from django.utils.translation import gettext as _

from .base import CheckoutRequest, CheckoutResult, Gateway, GatewayError

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Per attempt; one retry (same idempotency key) after a dropped connection or a 5xx,
# so a donor waits at most about twice this before being told to try again.
TIMEOUT_SECONDS = 10
NETWORK_RETRIES = 1


class SignatureError(ValueError):
    """The webhook's Stripe-Signature header does not verify; ``str()`` says why."""


# What the SDK's refusals mean, in the words the webhook's 400 answer uses. Matched on
# the start of the SDK's message; anything else reads "the signature does not verify".
_SIGNATURE_REASONS = (
    ("No Stripe-Signature header", "no Stripe-Signature header"),
    ("No webhook secret", "webhook secret is not configured"),
    ("Unable to extract timestamp", "no timestamp in Stripe-Signature header"),
    ("No signatures found with expected scheme", "no v1 signature in Stripe-Signature header"),
    ("No signatures found matching", "no signature matches the payload"),
    ("Timestamp outside the tolerance", "timestamp is outside the tolerance"),
)


def signature_verify(
    *, payload: bytes, header: str, secret: str, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> None:
    """Check a ``Stripe-Signature`` header with the SDK's verifier.

    The header is ``t=<unix time>,v1=<hex>[,v1=...]``: HMAC-SHA256 of ``"<t>.<raw body>"``
    keyed with the endpoint secret must equal one ``v1`` entry, and ``t`` may be at most
    ``tolerance`` seconds old, which stops replays of old deliveries. Raises
    SignatureError.
    """
    if not secret:
        raise SignatureError("webhook secret is not configured")
    try:
        stripe.WebhookSignature.verify_header(payload, header or None, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        message = str(getattr(exc, "user_message", "") or exc)
        for start, reason in _SIGNATURE_REASONS:
            if message.startswith(start):
                raise SignatureError(reason) from None
        raise SignatureError("the signature does not verify") from None
    except UnicodeDecodeError:
        # Stripe signs UTF-8 JSON; other bytes cannot be one of its deliveries.
        raise SignatureError("the payload is not UTF-8 text") from None


def signature_header(*, payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A valid header for ``payload`` (what Stripe sends); used by tests and the demo."""
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), secret, timestamp
    )


def checkout_params(request: CheckoutRequest) -> dict[str, Any]:
    """The parameters of Create a Checkout Session for ``request``; amounts in pence."""
    price_data: dict[str, Any] = {
        "currency": request.currency.lower(),
        "unit_amount": request.amount_pence,
        "product_data": {"name": request.description[:250]},
    }
    donation_ref = {"donation_id": str(request.donation_id)}
    params: dict[str, Any] = {
        "mode": "subscription" if request.recurring else "payment",
        "line_items": [{"quantity": 1, "price_data": price_data}],
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "client_reference_id": str(request.donation_id),
        "metadata": donation_ref,
    }
    if request.recurring:
        price_data["recurring"] = {"interval": "month"}
        params["subscription_data"] = {"metadata": donation_ref}
    else:
        params["submit_type"] = "donate"
        params["payment_intent_data"] = {"metadata": donation_ref}
    if request.email:
        params["customer_email"] = request.email
    return params


@functools.lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    """One SDK client per key and address, so its HTTP connections are reused."""
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base},
        http_client=stripe.RequestsClient(timeout=timeout),
        max_network_retries=NETWORK_RETRIES,
    )


def _unreadable() -> GatewayError:
    return GatewayError(_("The payment service gave an answer we could not read."))


class StripeGateway(Gateway):
    name = "stripe"

    def __init__(self, *, secret_key: str, api_base: str, timeout: float = TIMEOUT_SECONDS):
        self.secret_key = secret_key
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def _stripe(self) -> stripe.StripeClient:
        if not self.secret_key:
            logger.error("CLARION_STRIPE_SECRET_KEY is not set")
            raise GatewayError(_("Online payments are not set up yet. Please try again later."))
        return _client(self.secret_key, self.api_base, self.timeout)

    def _gateway_error(self, what: str, exc: stripe.StripeError) -> GatewayError:
        if isinstance(exc, stripe.APIConnectionError):
            logger.warning("Stripe %s: unreachable: %s", what, exc.user_message or exc)
            return GatewayError(
                _("The payment service is not answering. Please try again in a minute.")
            )
        status = exc.http_status or 0
        logger.warning("Stripe %s answered %s: %s", what, status, exc.user_message or exc)
        if status >= 400:
            return GatewayError(_("The payment service turned the request down. Please try again."))
        return _unreadable()

    def checkout_create(self, request: CheckoutRequest) -> CheckoutResult:
        client = self._stripe()
        try:
            session = client.v1.checkout.sessions.create(
                params=checkout_params(request),  # type: ignore[arg-type]
                # A retried request (timeout, double click) creates one session, not two.
                options={"idempotency_key": f"clarion-donation-{request.donation_id}"},
            )
        except stripe.StripeError as exc:
            raise self._gateway_error("create checkout session", exc) from exc
        data = session.to_dict() if isinstance(session, stripe.StripeObject) else {}
        session_id, url = data.get("id"), data.get("url")
        if (
            data.get("object") != "checkout.session"
            or not isinstance(session_id, str)
            or not isinstance(url, str)
            or urllib.parse.urlsplit(url).scheme not in ("https", "http")
        ):
            raise _unreadable()
        return CheckoutResult(redirect_url=url, checkout_id=session_id)

    def subscription_cancel(self, subscription_id: str) -> None:
        if not subscription_id:
            return
        client = self._stripe()
        try:
            client.v1.subscriptions.cancel(subscription_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return  # already cancelled (or never existed) at Stripe: nothing to stop
            raise self._gateway_error("cancel subscription", exc) from exc
        except stripe.StripeError as exc:
            raise self._gateway_error("cancel subscription", exc) from exc
