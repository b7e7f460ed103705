"""Checkout: payment outcomes, idempotency, all-or-nothing reservations, expiry."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from common import order_stream
from shop.core.timeutil import utcnow
from shop.orders.models import Order, OutboxMessage
from tests.support.api import ADDRESS
from tests.support.gateways import pending_checkout

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies


def available(client, shop, sku):
    return client.get(f"/api/v1/shops/{shop.slug}/products/{sku}").get_json()["available"]


def test_paid_checkout_queues_the_order_and_empties_the_cart(client, api, shop, app,
                                                             redis_client):
    api.add_product(shop, "GIFT", price=1000, stock=5)
    cart = api.new_cart(shop)
    api.set_item(cart, "GIFT", 2)
    response = api.checkout(cart)
    assert response.status_code == 201
    order = response.get_json()
    assert order["status"] == "paid" and order["total"]["amount"] == 2000
    assert client.get(f"/api/v1/carts/{cart}").status_code == 404
    with app.extensions["peakshop"].database.reading() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
    assert [(m.topic, m.order_id) for m in outbox] == [("order.paid", order["order_id"])]
    entries = redis_client.xrange(order_stream.STREAM)
    assert [e[1][b"order_id"].decode() for e in entries] == [order["order_id"]]


def test_declined_payment_releases_the_stock_and_keeps_the_cart(client, api, shop):
    api.add_product(shop, "GIFT", stock=5)
    cart = api.new_cart(shop)
    api.set_item(cart, "GIFT", 2)
    response = api.checkout(cart, token="tok_declined")
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "payment_failed" and body["failure_reason"] == "card_declined"
    assert available(client, shop, "GIFT") == 5
    assert client.get(f"/api/v1/carts/{cart}").status_code == 200


def test_same_idempotency_key_returns_the_same_order(client, api, shop, app):
    api.add_product(shop, "GIFT", stock=5)
    cart = api.new_cart(shop)
    api.set_item(cart, "GIFT", 1)
    first = api.checkout(cart, key="retry-me")
    second = api.checkout(cart, key="retry-me")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert first.get_json()["status"] == "paid"
    with app.extensions["peakshop"].database.reading() as session:
        assert len(session.scalars(select(Order)).all()) == 1
        assert len(session.scalars(select(OutboxMessage)).all()) == 1
    assert available(client, shop, "GIFT") == 4


def test_a_retry_with_the_same_key_before_the_cart_is_gone(client, api, shop, app):
    """A retried request whose cart still exists (declined payment) returns the same order."""
    api.add_product(shop, "GIFT", stock=5)
    cart = api.new_cart(shop)
    api.set_item(cart, "GIFT", 1)
    first = api.checkout(cart, token="tok_declined", key="k-1")
    second = api.checkout(cart, token="tok_declined", key="k-1")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    with app.extensions["peakshop"].database.reading() as session:
        assert len(session.scalars(select(Order)).all()) == 1
    assert available(client, shop, "GIFT") == 5


def test_an_idempotency_key_is_bound_to_its_cart(api, shop):
    api.add_product(shop, "GIFT", stock=5)
    first_cart, second_cart = api.new_cart(shop), api.new_cart(shop)
    api.set_item(first_cart, "GIFT", 1)
    api.set_item(second_cart, "GIFT", 1)
    assert api.checkout(first_cart, token="tok_declined", key="k-2").status_code == 201
    reused = api.checkout(second_cart, key="k-2")
    assert reused.status_code == 422
    assert reused.get_json()["code"] == "idempotency_key_reused"


def test_insufficient_stock_reserves_nothing(client, api, shop):
    api.add_product(shop, "PLENTY", stock=10)
    api.add_product(shop, "SCARCE", stock=1)
    cart = api.new_cart(shop)
    api.set_item(cart, "PLENTY", 4)
    api.set_item(cart, "SCARCE", 1)
    # Someone else buys the last SCARCE meanwhile.
    assert api.buy(shop, "SCARCE", 1).get_json()["status"] == "paid"
    response = api.checkout(cart)
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "insufficient_stock"
    assert body["lines"] == [{"sku": "SCARCE", "requested": 1, "available": 0}]
    assert available(client, shop, "PLENTY") == 10


def test_expired_reservations_return_to_stock(client, api, shop, app):
    api.add_product(shop, "LAST", stock=1)
    # An abandoned 3-D Secure: the payment never finishes.
    abandoned = pending_checkout(app, api, shop, "LAST", 1)
    resources = app.extensions["peakshop"]
    assert available(client, shop, "LAST") == 0
    with resources.database.transaction() as session:
        session.execute(update(Order).where(Order.id == abandoned.id).values(
            reservation_expires_at=utcnow() - timedelta(minutes=1)))
    # The next shopper finds the unit back on the shelf and the old order cancelled.
    assert api.buy(shop, "LAST", 1).get_json()["status"] == "paid"
    with resources.database.reading() as session:
        assert session.get(Order, abandoned.id).status == "cancelled"


@pytest.mark.parametrize("mutate, status, fragment", [
    (lambda b: b.pop("email"), 422, "'email' is required"),
    (lambda b: b.update(email="nope"), 422, "not an e-mail"),
    (lambda b: b.pop("shipping_address"), 422, "'shipping_address'"),
    (lambda b: b["shipping_address"].pop("city"), 422, "'shipping_address.city' is required"),
    (lambda b: b["shipping_address"].update(country="Finland"), 422, "two-letter"),
    (lambda b: b.update(payment="tok_ok"), 422, "'payment' must be an object"),
    (lambda b: b["payment"].update(gateway="paypal"), 422, "through 'dummy'"),
    (lambda b: b["payment"].update(token="tok_maybe"), 422, "'tok_ok' or 'tok_declined'"),
])
def test_bad_checkout_bodies_reserve_nothing(client, api, shop, mutate, status, fragment):
    api.add_product(shop, "GIFT", stock=3)
    cart = api.new_cart(shop)
    api.set_item(cart, "GIFT", 3)
    body = {"email": "s@example.com", "shipping_address": dict(ADDRESS),
            "payment": {"gateway": "dummy", "token": "tok_ok"}}
    mutate(body)
    response = client.post(f"/api/v1/carts/{cart}/checkout", json=body)
    assert response.status_code == status
    assert fragment in response.get_json()["detail"]
    assert available(client, shop, "GIFT") == 3


def test_empty_cart_cannot_check_out(api, shop):
    cart = api.new_cart(shop)
    response = api.checkout(cart)
    assert response.status_code == 422 and response.get_json()["code"] == "empty_cart"


def test_order_needs_its_access_token(client, api, shop):
    api.add_product(shop, "GIFT")
    order = api.buy(shop, "GIFT").get_json()
    assert api.order(order["order_id"], "wrong").status_code == 401
    assert client.get(f"/api/v1/orders/{order['order_id']}").status_code == 401
    assert api.order("f" * 32, order["access_token"]).status_code == 404


@pytest.mark.parametrize("token", ["é", "psk_ü€", "\ud800", "ａ" * 64])
def test_a_token_of_any_text_opens_nothing_and_says_so(client, api, shop, token):
    """Not ASCII, not even valid text: a wrong token like any other, never a 500."""
    api.add_product(shop, "GIFT")
    order = api.buy(shop, "GIFT").get_json()
    answer = client.get(f"/api/v1/orders/{order['order_id']}",
                        headers={"Authorization": "Bearer " + token.encode(
                            "utf-8", "surrogatepass").decode("latin-1")})
    assert answer.status_code == 401, answer.get_json()
    assert answer.content_type == "application/problem+json"


def test_merchant_lists_orders_by_status(client, api, shop):
    api.add_product(shop, "GIFT", stock=5)
    paid = api.buy(shop, "GIFT").get_json()
    api.buy(shop, "GIFT", token="tok_declined")
    listed = client.get(f"/api/v1/shops/{shop.slug}/orders?status=paid", headers=shop.auth)
    assert [o["order_id"] for o in listed.get_json()["items"]] == [paid["order_id"]]
    all_orders = client.get(f"/api/v1/shops/{shop.slug}/orders", headers=shop.auth)
    assert len(all_orders.get_json()["items"]) == 2
    bad = client.get(f"/api/v1/shops/{shop.slug}/orders?status=lost", headers=shop.auth)
    assert bad.status_code == 422
    # The refusal lists the values to send, as they are written.
    assert "'paid'" in bad.get_json()["detail"] and "OrderStatus" not in bad.get_json()["detail"]
