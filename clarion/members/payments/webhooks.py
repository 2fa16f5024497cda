"""The providers' webhooks for membership dues. Each verifies the signature on the raw
body with the provider's own library before reading anything, answers bad input with a
4xx JSON error (nothing written), and handles all the events of one delivery in one
transaction. Every handler ends in an idempotent lifecycle service, so a delivery that
is repeated, or retried after a 5xx, changes nothing the second time."""

from __future__ import annotations

import json
import logging

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from gocardless_pro import webhooks as gc_webhooks
from gocardless_pro.errors import InvalidSignatureError

from . import DuesError, gocardless, stripe_dues

logger = logging.getLogger(__name__)

MAX_BYTES = 1_000_000
# GoCardless asks for 498 ("invalid token") when the signature does not verify.
GOCARDLESS_BAD_SIGNATURE = 498


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _body(request) -> bytes | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BYTES:
        return None
    body = request.body
    return None if len(body) > MAX_BYTES else body


def _refused(exc: ValidationError) -> str:
    return "refused: " + "; ".join(exc.messages)[:150]


@csrf_exempt
@require_POST
def gocardless_webhook(request):
    secret = settings.CLARION_GOCARDLESS_WEBHOOK_SECRET
    if not secret:
        return _error("GoCardless webhooks are not configured on this server.")
    body = _body(request)
    if body is None:
        return _error("Payload too large.", 413)
    try:
        events = gc_webhooks.parse(body, secret, request.headers.get("Webhook-Signature", ""))
    except InvalidSignatureError:
        return _error("Invalid signature.", GOCARDLESS_BAD_SIGNATURE)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return _error("Invalid payload: not a GoCardless webhook.")
    outcomes = {}
    try:
        with transaction.atomic():
            for event in events:
                if not isinstance(event.id, str):
                    raise ValueError("event without id")
                try:
                    with transaction.atomic():
                        outcome = gocardless.event_handle(event)
                except ValidationError as exc:
                    outcome = _refused(exc)
                outcomes[event.id] = outcome
                logger.info(
                    "GoCardless event %s (%s %s): %s",
                    event.id,
                    event.resource_type,
                    event.action,
                    outcome,
                )
    except DuesError:
        return _error("GoCardless could not be reached; deliver again later.", 503)
    except (ValueError, KeyError, TypeError, AttributeError):
        return _error("Invalid payload: an event is not shaped as GoCardless sends it.")
    return JsonResponse({"received": True, "outcomes": outcomes})


@csrf_exempt
@require_POST
def stripe_webhook(request):
    secret = stripe_dues.webhook_secret()
    if not secret:
        return _error("Stripe webhooks are not configured on this server.")
    body = _body(request)
    if body is None:
        return _error("Payload too large.", 413)
    try:
        stripe.Webhook.construct_event(
            body.decode("utf-8"),
            request.headers.get("Stripe-Signature", ""),
            secret,
            stripe_dues.SIGNATURE_TOLERANCE_SECONDS,
        )
        event = json.loads(body)
    except stripe.SignatureVerificationError:
        return _error("Invalid signature.")
    except (ValueError, UnicodeDecodeError):
        return _error("Invalid payload: not JSON.")
    except (AttributeError, TypeError):
        # Signed, but JSON that is not an object: the SDK cannot build an event of it.
        return _error("Invalid payload: not a Stripe event.")
    if not isinstance(event, dict):
        return _error("Invalid payload: not a Stripe event.")
    try:
        with transaction.atomic():
            outcome = stripe_dues.event_handle(event)
    except stripe_dues.PayloadError as exc:
        return _error(f"Invalid payload: {exc}.")
    except ValidationError as exc:
        outcome = _refused(exc)
    logger.info("Stripe membership event %s (%s): %s", event.get("id"), event.get("type"), outcome)
    return JsonResponse({"received": True, "outcome": outcome})
