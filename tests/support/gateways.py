"""Payment gateways that answer as a real one may, for tests that need that answer."""

from __future__ import annotations

from shop.checkout import service
from shop.checkout.rules import Limits
from shop.orders.models import Order
from shop.payments.interface import PaymentResult, PaymentStatus
from tests.support.api import ADDRESS


class PendingBank:
    """A gateway whose payments wait for the shopper, as Stripe's 3-D Secure does (and an
    abandoned one never finishes)."""

    name = "dummy"

    def check_token(self, token):
        pass

    def charge(self, request):
        return PaymentResult(PaymentStatus.PENDING, reference=f"pi_{request.order_id}",
                             client_secret="pi_secret")


def pending_checkout(app, api, shop, sku: str, quantity: int,
                     limits: Limits | None = None) -> Order:
    """A cart of `quantity` x `sku` checked out through `PendingBank`: an order awaiting
    payment, which holds its units."""
    cart = api.new_cart(shop)
    response = api.set_item(cart, sku, quantity)
    assert response.status_code == 200, response.get_json()
    resources = app.extensions["peakshop"]
    request = service.CheckoutRequest("s@example.com", ADDRESS, "dummy", "tok_ok")
    return service.checkout(resources.database, resources.redis, PendingBank(), cart_id=cart,
                            request=request, idempotency_key=None,
                            limits=limits or Limits()).order
