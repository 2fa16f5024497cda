"""Public donation endpoints: the test gateway's checkout page, the return page for
an abandoned checkout, and Stripe's webhook. The donation form itself is an action
page (``actions``), which calls ``services.donation_start``.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .gateways.stripe import SignatureError, signature_verify
from .gateways.stripe_webhooks import PayloadError, event_handle
from .gateways.testgateway import checkout_token_read
from .models import Donation
from .money import format_money

logger = logging.getLogger(__name__)

WEBHOOK_MAX_BYTES = 512 * 1024


def _problem(request, message: str, status: int):
    return render(request, "donations/problem.html", {"message": message}, status=status)


@require_http_methods(["GET", "POST"])
def test_checkout(request, token: str):
    """The test gateway's hosted checkout: the amount and Pay / Decline buttons."""
    read = checkout_token_read(token)
    donation = None
    if read is not None:
        donation_id, amount = read
        donation = (
            Donation.objects.select_related("page")
            .filter(pk=donation_id, gateway="test", amount_pence=amount)
            .first()
        )
    if donation is None:
        return _problem(
            request, _("This payment link is not valid or has expired. Please start again."), 404
        )
    context = {
        "donation": donation,
        "amount": format_money(donation.amount_pence, donation.currency),
        "page_url": services.page_public_url(donation.page),
    }
    if donation.status != Donation.Status.PENDING:
        # Paid, declined or abandoned: the link is spent.
        return render(
            request,
            "donations/test_checkout_done.html",
            context,
            status=409 if request.method == "POST" else 200,
        )
    if request.method == "GET":
        return render(request, "donations/test_checkout.html", context)
    decision = request.POST.get("decision")
    if decision == "pay":
        services.donation_succeed(donation_id=donation.pk)
        return HttpResponseRedirect(services.gift_thanks_url(donation))
    if decision == "decline":
        services.donation_fail(donation_id=donation.pk, reason="declined on the test checkout")
        return render(request, "donations/test_checkout_declined.html", context)
    context["error"] = _("Choose Pay or Decline.")
    return render(request, "donations/test_checkout.html", context, status=400)


def checkout_cancelled(request, token: str):
    """Where a gateway sends a donor who left its checkout without paying."""
    donation_id = services.cancel_token_read(token)
    donation = (
        Donation.objects.select_related("page").filter(pk=donation_id).first()
        if donation_id
        else None
    )
    if donation is None:
        return _problem(request, _("This link is not valid or has expired."), 404)
    services.donation_cancel(donation_id=donation.pk)
    return render(
        request,
        "donations/checkout_cancelled.html",
        {
            "donation": donation,
            "page_url": services.page_public_url(donation.page),
        },
    )


def _json_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's webhook: verify the signature on the raw body, then handle the event
    once (idempotent on event id). 400 with a JSON error when it does not verify."""
    secret = settings.CLARION_STRIPE_WEBHOOK_SECRET
    if not secret:
        return _json_error("Stripe webhooks are not configured on this server.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > WEBHOOK_MAX_BYTES:
        return _json_error("Payload too large.", 413)
    payload = request.body
    if len(payload) > WEBHOOK_MAX_BYTES:
        return _json_error("Payload too large.", 413)
    try:
        signature_verify(
            payload=payload, header=request.headers.get("Stripe-Signature", ""), secret=secret
        )
    except SignatureError as exc:
        return _json_error(f"Invalid signature: {exc}.")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return _json_error("Invalid payload: not JSON.")
    try:
        first, outcome = event_handle(event)
    except PayloadError as exc:
        return _json_error(f"Invalid payload: {exc}.")
    return JsonResponse({"received": True, "duplicate": not first, "outcome": outcome})
