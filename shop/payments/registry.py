"""The gateway configured for this process."""

from __future__ import annotations

from shop.core.settings import Settings
from shop.payments.dummy import DummyGateway
from shop.payments.interface import Gateway


def gateway_for(settings: Settings) -> Gateway:
    if settings.payment_gateway == "stripe":
        from shop.payments.stripe.gateway import StripeGateway

        return StripeGateway(settings)
    return DummyGateway()
