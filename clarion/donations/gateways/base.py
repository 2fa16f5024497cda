"""The payment gateway interface.

A gateway turns a pending Donation into a place to send the donor (a hosted checkout
page) and, for recurring gifts, can cancel the subscription it created. What happens
after payment reaches Clarion differently per gateway (the test gateway's own page,
Stripe's webhook) and ends in the same ``donations.services`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(Exception):
    """The gateway refused or could not be reached. ``str()`` is safe to show a donor."""


@dataclass(frozen=True)
class CheckoutRequest:
    donation_id: int
    amount_pence: int
    currency: str
    recurring: bool
    description: str
    email: str
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutResult:
    redirect_url: str
    checkout_id: str = ""


class Gateway:
    """Base class; ``name`` is stored on each Donation as ``gateway``."""

    name = ""

    def checkout_create(self, request: CheckoutRequest) -> CheckoutResult:
        raise NotImplementedError

    def subscription_cancel(self, subscription_id: str) -> None:
        """Stop future payments of ``subscription_id``. Safe to call twice."""
        raise NotImplementedError
