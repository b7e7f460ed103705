"""What the gate makes of a request from its method and path: the order of the queue."""

import pytest

from shop.edge.classes import request_class
from shop.waiting_room.decision import RequestClass as C

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1)"


@pytest.mark.parametrize(("method", "path", "agent", "admitted", "expected"), [
    ("POST", "/api/v1/carts/c1/checkout", "", False, C.CHECKOUT),
    ("GET", "/api/v1/orders/o1", "", False, C.CHECKOUT),
    ("GET", "/orders/o1", "", False, C.CHECKOUT),
    ("POST", "/shops/acme/checkout", "", False, C.CHECKOUT),
    ("PUT", "/api/v1/carts/c1/items/MUG", "", False, C.CART),
    ("GET", "/shops/acme/cart", "", False, C.CART),
    ("GET", "/api/v1/shops/acme/products", "", False, C.ANONYMOUS_BROWSE),
    ("GET", "/api/v1/shops/acme/products/MUG", "", True, C.ADMITTED_BROWSE),
    ("POST", "/api/v1/shops/acme/carts", "", False, C.ANONYMOUS_BROWSE),
    ("GET", "/shops/acme/", "", False, C.ANONYMOUS_BROWSE),
    ("GET", "/shops/acme/products/MUG", BOT, False, C.CRAWLER),
    ("GET", "/api/v1/shops/acme/products", BOT, False, C.CRAWLER),
    # Merchants and operations are never held behind the crowd.
    ("POST", "/api/v1/shops/acme/products", "", False, C.ESSENTIAL),
    ("PUT", "/api/v1/shops/acme/waiting-room", "", False, C.ESSENTIAL),
    ("GET", "/metrics", "", False, C.ESSENTIAL),
    ("GET", "/readyz", BOT, False, C.ESSENTIAL),
    ("POST", "/api/v1/payments/stripe/webhook", "", False, C.ESSENTIAL),
])
def test_request_class(method, path, agent, admitted, expected):
    assert request_class(method, path, agent, admitted) is expected
