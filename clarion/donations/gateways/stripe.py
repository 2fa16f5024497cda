"""Stripe: Checkout Sessions out, signed webhooks in.

Requests are form-encoded with bracketed keys (``line_items[0][price_data][currency]``)
and authenticated with the secret key as a Bearer token, as Stripe's API reference
documents. ``api_base`` is a setting so tests can point it at a loopback server.
Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.utils.translation import gettext as _

from .base import CheckoutRequest, CheckoutResult, Gateway, GatewayError

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 20


class SignatureError(ValueError):
    """The webhook's Stripe-Signature header does not verify; ``str()`` says why."""


def signature_verify(
    *,
    payload: bytes,
    header: str,
    secret: str,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a ``Stripe-Signature`` header the way Stripe documents it.

    The header is ``t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=...]``. The expected
    signature is HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint secret;
    it must equal one of the ``v1`` entries (constant-time compare), and ``t`` must be
    within ``tolerance`` seconds of now, which stops replays of old deliveries.
    Raises SignatureError.
    """
    if not secret:
        raise SignatureError("webhook secret is not configured")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in (header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("timestamp is not a number") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("no timestamp or no v1 signature in Stripe-Signature header")
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("no signature matches the payload")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("timestamp is outside the tolerance")


def signature_header(*, payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A valid header for ``payload`` (what Stripe sends); used by tests and the demo."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), str(t).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def checkout_params(request: CheckoutRequest) -> list[tuple[str, str]]:
    """The form fields of POST /v1/checkout/sessions for ``request``."""
    item = "line_items[0]"
    params = [
        ("mode", "subscription" if request.recurring else "payment"),
        (f"{item}[quantity]", "1"),
        (f"{item}[price_data][currency]", request.currency.lower()),
        (f"{item}[price_data][unit_amount]", str(request.amount_pence)),
        (f"{item}[price_data][product_data][name]", request.description[:250]),
        ("success_url", request.success_url),
        ("cancel_url", request.cancel_url),
        ("client_reference_id", str(request.donation_id)),
        ("metadata[donation_id]", str(request.donation_id)),
    ]
    if request.recurring:
        params += [
            (f"{item}[price_data][recurring][interval]", "month"),
            ("subscription_data[metadata][donation_id]", str(request.donation_id)),
        ]
    else:
        params += [
            ("submit_type", "donate"),
            ("payment_intent_data[metadata][donation_id]", str(request.donation_id)),
        ]
    if request.email:
        params.append(("customer_email", request.email))
    return params


class StripeGateway(Gateway):
    name = "stripe"

    def __init__(self, *, secret_key: str, api_base: str, timeout: float = TIMEOUT_SECONDS):
        self.secret_key = secret_key
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def _request(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        idempotency_key: str = "",
    ) -> dict[str, Any]:
        if not self.secret_key:
            logger.error("CLARION_STRIPE_SECRET_KEY is not set")
            raise GatewayError(_("Online payments are not set up yet. Please try again later."))
        body = urllib.parse.urlencode(params or []).encode() if method != "GET" else None
        req = urllib.request.Request(self.api_base + path, data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.secret_key}")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if idempotency_key:
            # A retried request (timeout, double click) creates one session, not two.
            req.add_header("Idempotency-Key", idempotency_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310 (https base from settings)
                raw = response.read()
        except urllib.error.HTTPError as exc:
            message = ""
            try:
                message = json.loads(exc.read() or b"{}").get("error", {}).get("message", "")
            except (ValueError, AttributeError):
                pass
            logger.warning("Stripe %s %s answered %s: %s", method, path, exc.code, message)
            raise GatewayError(
                _("The payment service turned the request down. Please try again.")
            ) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            logger.warning("Stripe %s %s unreachable: %s", method, path, exc)
            raise GatewayError(
                _("The payment service is not answering. Please try again in a minute.")
            ) from exc
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise GatewayError(_("The payment service gave an answer we could not read.")) from exc
        if not isinstance(data, dict):
            raise GatewayError(_("The payment service gave an answer we could not read."))
        return data

    def checkout_create(self, request: CheckoutRequest) -> CheckoutResult:
        data = self._request(
            "POST",
            "/v1/checkout/sessions",
            checkout_params(request),
            idempotency_key=f"clarion-donation-{request.donation_id}",
        )
        session_id, url = data.get("id"), data.get("url")
        if (
            data.get("object") != "checkout.session"
            or not isinstance(session_id, str)
            or not isinstance(url, str)
            or urllib.parse.urlsplit(url).scheme not in ("https", "http")
        ):
            raise GatewayError(_("The payment service gave an answer we could not read."))
        return CheckoutResult(redirect_url=url, checkout_id=session_id)

    def subscription_cancel(self, subscription_id: str) -> None:
        if not subscription_id:
            return
        try:
            self._request(
                "DELETE", f"/v1/subscriptions/{urllib.parse.quote(subscription_id, safe='')}"
            )
        except GatewayError as exc:
            # Already cancelled at Stripe answers 404: treat as done.
            cause = exc.__cause__
            if isinstance(cause, urllib.error.HTTPError) and cause.code == 404:
                return
            raise
