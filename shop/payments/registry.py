"""The gateway configured for this process."""

from __future__ import annotations

import redis

from shop.core.settings import Settings
from shop.payments.dummy import DummyGateway
from shop.payments.interface import Gateway


def gateway_for(settings: Settings, client: redis.Redis | None = None) -> Gateway:
    """The configured gateway; the dummy one keeps its ledger in `client` (Redis)."""
    if settings.payment_gateway == "stripe":
        from shop.payments.stripe.gateway import StripeGateway

        return StripeGateway(settings)
    return DummyGateway(ledger=client)
