"""The built-in test gateway: no money moves.

The checkout "page" is Clarion's own /donate/test-checkout/<token>/, whose token is
signed with the secret key and names one donation and its amount, so it cannot be
forged or pointed at another donation. Paying there calls the same services a real
gateway's webhook would.
"""

from __future__ import annotations

from django.urls import reverse

from clarion.core import tokens

from .base import CheckoutRequest, CheckoutResult, Gateway

TOKEN_MAX_AGE = 24 * 3600


def checkout_token(donation_id: int, amount_pence: int) -> str:
    return tokens.sign(
        {"d": donation_id, "a": amount_pence}, salt=tokens.DONATIONS_TEST_CHECKOUT, compress=True
    )


def checkout_token_read(token: str) -> tuple[int, int] | None:
    """(donation id, amount) from a token, or None if it is forged, garbled or expired."""
    data = tokens.unsign(token, salt=tokens.DONATIONS_TEST_CHECKOUT, max_age=TOKEN_MAX_AGE)
    if not isinstance(data, dict):
        return None
    donation_id, amount = data.get("d"), data.get("a")
    if not isinstance(donation_id, int) or not isinstance(amount, int):
        return None
    return donation_id, amount


class TestGateway(Gateway):
    name = "test"
    __test__ = False  # not a pytest test class

    def checkout_create(self, request: CheckoutRequest) -> CheckoutResult:
        token = checkout_token(request.donation_id, request.amount_pence)
        return CheckoutResult(
            redirect_url=reverse("donations:test_checkout", kwargs={"token": token}),
            checkout_id=f"test_cs_{request.donation_id}",
        )

    def subscription_cancel(self, subscription_id: str) -> None:
        # Test subscriptions live only in Clarion's own RecurringPlan rows.
        return None
