"""The Stripe adapter (the official SDK) against Stripe's documented wire format, on a
loopback server."""

from __future__ import annotations

import pytest

from clarion.donations.gateways import CheckoutRequest, GatewayError
from clarion.donations.gateways.stripe import StripeGateway

from .stripe_fake import FakeStripe


@pytest.fixture
def fake_stripe():
    with FakeStripe() as fake:
        yield fake


def _request(**overrides) -> CheckoutRequest:
    values: dict = dict(
        donation_id=42,
        amount_pence=1250,
        currency="GBP",
        recurring=False,
        description="Donation to Clarion: Fund the campaign",
        email="nora@example.net",
        success_url="https://example.org/act/fund/thanks/",
        cancel_url="https://example.org/donate/cancelled/x/",
    )
    values.update(overrides)
    return CheckoutRequest(**values)


def test_one_off_checkout_session_is_created_as_stripe_documents(fake_stripe):
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    result = gateway.checkout_create(_request())

    assert result.checkout_id == "cs_test_a1B2c30001"
    assert result.redirect_url.startswith("https://checkout.stripe.com/c/pay/cs_test_a1B2c30001")
    sent = fake_stripe.requests[0]
    assert (sent["method"], sent["path"]) == ("POST", "/v1/checkout/sessions")
    assert sent["headers"]["Idempotency-Key"] == "clarion-donation-42"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_clarion"
    # The SDK pins the API version its request and response shapes are written for.
    assert sent["headers"]["Stripe-Version"]
    form = sent["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "gbp"
    assert form["line_items[0][price_data][unit_amount]"] == "1250"
    assert (
        form["line_items[0][price_data][product_data][name]"]
        == "Donation to Clarion: Fund the campaign"
    )
    assert form["line_items[0][quantity]"] == "1"
    assert "line_items[0][price_data][recurring][interval]" not in form
    assert form["success_url"] == "https://example.org/act/fund/thanks/"
    assert form["cancel_url"] == "https://example.org/donate/cancelled/x/"
    assert form["client_reference_id"] == "42"
    assert form["metadata[donation_id]"] == "42"
    assert form["payment_intent_data[metadata][donation_id]"] == "42"
    assert form["customer_email"] == "nora@example.net"
    assert form["submit_type"] == "donate"


def test_monthly_checkout_is_a_subscription_with_a_monthly_price(fake_stripe):
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    gateway.checkout_create(_request(recurring=True, currency="EUR", amount_pence=500))
    form = fake_stripe.requests[0]["form"]
    assert form["mode"] == "subscription"
    assert form["line_items[0][price_data][recurring][interval]"] == "month"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["subscription_data[metadata][donation_id]"] == "42"
    assert "submit_type" not in form and "payment_intent_data[metadata][donation_id]" not in form


def test_wrong_key_and_stripe_errors_become_a_clear_gateway_error(fake_stripe):
    gateway = StripeGateway(secret_key="sk_test_wrong", api_base=fake_stripe.url)
    with pytest.raises(GatewayError, match="turned the request down"):
        gateway.checkout_create(_request())
    fake_stripe.fail_with = (200, {"object": "list", "data": []})
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    with pytest.raises(GatewayError, match="could not read"):
        gateway.checkout_create(_request())


def test_unreachable_stripe_is_a_gateway_error_not_a_crash():
    with FakeStripe() as fake:
        url = fake.url
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=url, timeout=2)
    with pytest.raises(GatewayError, match="not answering"):
        gateway.checkout_create(_request())


def test_missing_secret_key_says_payments_are_not_set_up(fake_stripe):
    with pytest.raises(GatewayError, match="not set up"):
        StripeGateway(secret_key="", api_base=fake_stripe.url).checkout_create(_request())
    assert fake_stripe.requests == []


def test_subscription_cancel_sends_delete_and_tolerates_already_gone(fake_stripe):
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    gateway.subscription_cancel("sub_1MowQVLkdIwHu7ix")
    assert (fake_stripe.requests[0]["method"], fake_stripe.requests[0]["path"]) == (
        "DELETE",
        "/v1/subscriptions/sub_1MowQVLkdIwHu7ix",
    )
    fake_stripe.fail_with = (404, {"error": {"message": "No such subscription"}})
    gateway.subscription_cancel("sub_1MowQVLkdIwHu7ix")  # no error: already cancelled


def test_a_stripe_hiccup_is_retried_once_with_the_same_idempotency_key(fake_stripe):
    fake_stripe.fail_next = [(500, {"error": {"type": "api_error", "message": "Try again"}})]
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    result = gateway.checkout_create(_request())
    assert result.redirect_url.startswith("https://checkout.stripe.com/c/pay/")
    keys = [sent["headers"]["Idempotency-Key"] for sent in fake_stripe.requests]
    assert keys == ["clarion-donation-42", "clarion-donation-42"]


def test_a_stripe_outage_is_a_gateway_error_after_one_retry(fake_stripe):
    error = (503, {"error": {"type": "api_error", "message": "Service unavailable"}})
    fake_stripe.fail_next = [error, error, error]
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    with pytest.raises(GatewayError, match="turned the request down"):
        gateway.checkout_create(_request())
    assert len(fake_stripe.requests) == 2


def test_a_double_submitted_donation_gets_one_checkout_session(fake_stripe):
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    first = gateway.checkout_create(_request())
    again = gateway.checkout_create(_request())
    assert again == first
    other = gateway.checkout_create(_request(donation_id=43))
    assert other.checkout_id != first.checkout_id


def test_amounts_go_to_stripe_as_whole_pence(fake_stripe):
    gateway = StripeGateway(secret_key="sk_test_clarion", api_base=fake_stripe.url)
    gateway.checkout_create(_request(amount_pence=1000000))
    assert fake_stripe.requests[0]["form"]["line_items[0][price_data][unit_amount]"] == "1000000"
