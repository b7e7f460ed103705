"""Fixtures for the Stripe gateway: localstripe stands in for Stripe's API.

localstripe runs as a real server process on loopback, the app talks to it with the official
`stripe` library through `STRIPE_API_BASE`, and assertions read Stripe's side back the same way.
A module can point the app elsewhere by overriding `localstripe` or `stripe_api_base`.
"""

from __future__ import annotations

import pytest
import stripe

from tests.payments.localstripe_server import LocalStripe
from tests.payments.stripe_testkit import API_KEY, WEBHOOK_SECRET


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    server = LocalStripe.start(log_path=str(tmp_path_factory.mktemp("localstripe") / "log"))
    yield server
    server.stop()


@pytest.fixture
def stripe_api_base(localstripe) -> str:
    """Where the app reaches Stripe."""
    return localstripe.url


@pytest.fixture
def settings_overrides(settings_overrides, stripe_api_base) -> dict:
    return {**settings_overrides, "payment_gateway": "stripe", "stripe_api_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET, "stripe_api_base": stripe_api_base}


@pytest.fixture
def stripe_client(localstripe) -> stripe.StripeClient:
    """The test's own view of Stripe's side, straight to localstripe."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url},
                               http_client=stripe.RequestsClient(timeout=10))
