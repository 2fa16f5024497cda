"""Payment gateways. ``gateway_for(name)`` and ``default_gateway()`` read settings at
call time (never at import), so tests can switch gateways with override_settings."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import CheckoutRequest, CheckoutResult, Gateway, GatewayError

__all__ = [
    "CheckoutRequest",
    "CheckoutResult",
    "Gateway",
    "GatewayError",
    "default_gateway",
    "gateway_for",
]


def gateway_for(name: str) -> Gateway:
    if name == "test":
        from .testgateway import TestGateway

        return TestGateway()
    if name == "stripe":
        from .stripe import StripeGateway

        return StripeGateway(
            secret_key=settings.CLARION_STRIPE_SECRET_KEY,
            api_base=settings.CLARION_STRIPE_API_BASE,
        )
    raise ImproperlyConfigured(f"Unknown payment gateway {name!r}; use 'test' or 'stripe'.")


def default_gateway() -> Gateway:
    return gateway_for(settings.CLARION_PAYMENT_GATEWAY)
