from __future__ import annotations

import pytest

from .stripe_fake import FakeStripe

WEBHOOK_SECRET = "whsec_test_clarion_0123456789"


@pytest.fixture
def donation_page(db):
    from clarion.actions.models import ActionPage

    return ActionPage.objects.create(
        kind=ActionPage.Kind.DONATION,
        slug="fund-the-fight",
        title="Fund the fight",
        status=ActionPage.Status.LIVE,
        suggested_amounts=[500, 1000, 2500],
        allow_monthly=True,
    )


@pytest.fixture
def fake_stripe():
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def stripe_settings(db, settings, fake_stripe):
    settings.CLARION_PAYMENT_GATEWAY = "stripe"
    settings.CLARION_STRIPE_SECRET_KEY = fake_stripe.secret_key
    settings.CLARION_STRIPE_API_BASE = fake_stripe.url
    settings.CLARION_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings
