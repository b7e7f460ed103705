"""Checkout through the stripe gateway, end to end.

localstripe stands in for Stripe's API: the app creates real PaymentIntents on it with the
official `stripe` library, and the tests read them back through Stripe's list API.
"""

from __future__ import annotations

from tests.payments.stripe_testkit import (
    DECLINED_PAYMENT_METHOD,
    SUCCEEDED_EVENT,
    THREE_D_SECURE_CARD,
    authenticate,
    available,
    card_payment_method,
    cart_with,
    checkout,
    event_body,
    intent,
    intents_for,
    outbox_rows,
    post_event,
    queued,
    stored_order,
)


def test_a_card_that_pays_makes_the_order_paid(api, shop, app, stripe_client, redis_client):
    api.add_product(shop, "MUG", price=1250, stock=3)
    response = checkout(api.client, cart_with(api, shop, "MUG", 2), token="pm_card_visa")
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "paid"
    [paid] = intents_for(stripe_client, order["order_id"])
    assert (paid["status"], paid["amount"], paid["currency"]) == ("succeeded", 2500, "eur")
    assert stored_order(app, order["order_id"]).payment_reference == paid["id"]
    assert available(api.client, shop.slug, "MUG") == 1
    assert outbox_rows(app, order["order_id"]) == 1
    assert queued(redis_client, order["order_id"]) == 1


def test_a_declined_card_fails_the_order_and_returns_the_stock(api, shop, app, stripe_client):
    api.add_product(shop, "MUG", stock=3)
    response = checkout(api.client, cart_with(api, shop, "MUG", 2), token=DECLINED_PAYMENT_METHOD)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert (order["status"], order["failure_reason"]) == ("payment_failed", "card_declined")
    assert available(api.client, shop.slug, "MUG") == 3
    assert outbox_rows(app, order["order_id"]) == 0
    [refused] = intents_for(stripe_client, order["order_id"])
    assert refused["status"] == "requires_payment_method"


def test_the_same_idempotency_key_twice_creates_one_payment_intent(api, shop, stripe_client):
    api.add_product(shop, "MUG", stock=3)
    cart_id = cart_with(api, shop, "MUG", 1)
    first = checkout(api.client, cart_id, token="pm_card_visa", key="order-attempt-1")
    again = checkout(api.client, cart_id, token="pm_card_visa", key="order-attempt-1")
    assert first.status_code == 201, first.get_json()
    assert again.status_code == 201, again.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["order_id"] == first.get_json()["order_id"]
    assert len(intents_for(stripe_client, first.get_json()["order_id"])) == 1
    assert available(api.client, shop.slug, "MUG") == 2


def test_3d_secure_leaves_the_order_pending_until_the_webhook(api, shop, app, localstripe,
                                                               stripe_client, redis_client):
    api.add_product(shop, "MUG", stock=3)
    token = card_payment_method(stripe_client, THREE_D_SECURE_CARD)
    response = checkout(api.client, cart_with(api, shop, "MUG", 1), token=token)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "pending_payment"
    [waiting] = intents_for(stripe_client, order["order_id"])
    assert waiting["status"] == "requires_action"
    assert stored_order(app, order["order_id"]).payment_reference == waiting["id"]
    assert available(api.client, shop.slug, "MUG") == 2

    authenticate(localstripe.url, waiting["id"], waiting["client_secret"], success=True)
    paid = intent(stripe_client, waiting["id"])
    assert paid["status"] == "succeeded"
    delivered = post_event(api.client, event_body(SUCCEEDED_EVENT, paid))
    assert delivered.status_code == 200, delivered.get_json()
    assert delivered.get_json()["outcome"] == "paid"
    shown = api.order(order["order_id"], order["access_token"]).get_json()
    assert shown["status"] == "paid"
    assert outbox_rows(app, order["order_id"]) == 1
    assert queued(redis_client, order["order_id"]) == 1
    assert available(api.client, shop.slug, "MUG") == 2


def test_a_token_of_the_wrong_kind_is_refused_before_any_stock_is_held(api, shop):
    api.add_product(shop, "MUG", stock=3)
    response = checkout(api.client, cart_with(api, shop, "MUG", 1), token="tok_ok!")
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "invalid_payment_token"
    assert "pm_card_visa" in problem["detail"] and "tok_visa" in problem["detail"]
    assert available(api.client, shop.slug, "MUG") == 3
