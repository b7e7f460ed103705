"""Checkout integrity through the stripe gateway: one PaymentIntent per cart, brief 3-D Secure
holds.

localstripe stands in for Stripe's API: the app creates real PaymentIntents on it with the
official `stripe` library, and the tests count them through Stripe's list API.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from shop.core.timeutil import utcnow
from shop.orders.service import expire_reservations
from tests.payments.stripe_testkit import (
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
    post_event,
    stored_order,
)

RACERS = 10


def all_intents(stripe_client) -> list[dict]:
    return [found.to_dict() for found in
            stripe_client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()]


def test_racing_checkouts_of_one_cart_create_one_payment_intent(app, api, shop, stripe_client):
    api.add_product(shop, "MUG", price=1250, stock=10)
    cart_id = cart_with(api, shop, "MUG", 2)
    before = {found["id"] for found in all_intents(stripe_client)}
    start = threading.Barrier(RACERS)

    def attempt(number: int):
        client = app.test_client()
        start.wait()
        return checkout(client, cart_id, token="pm_card_visa", key=f"attempt-{number}")

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(attempt, range(RACERS)))

    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 1 and statuses.count(409) == RACERS - 1, statuses
    [paid] = [response.get_json() for response in responses if response.status_code == 201]
    created = [found for found in all_intents(stripe_client) if found["id"] not in before]
    assert [(found["metadata"]["order_id"], found["amount"], found["status"])
            for found in created] == [(paid["order_id"], 2500, "succeeded")]
    assert available(api.client, shop.slug, "MUG") == 8


def test_3d_secure_holds_the_stock_briefly_and_a_late_payment_is_refunded(
        app, api, shop, localstripe, stripe_client):
    api.add_product(shop, "LAUNCH", price=9900, stock=5)
    token = card_payment_method(stripe_client, THREE_D_SECURE_CARD)
    before = utcnow()
    response = checkout(api.client, cart_with(api, shop, "LAUNCH", 5), token=token)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "pending_payment" and order["payment"]["client_secret"]
    assert available(api.client, shop.slug, "LAUNCH") == 0
    hold_ends = stored_order(app, order["order_id"]).reservation_expires_at
    action_hold = app.extensions["peakshop"].settings.action_hold_ttl_s
    assert action_hold < app.extensions["peakshop"].settings.reservation_ttl_s
    assert before + timedelta(seconds=action_hold) <= hold_ends <= \
        utcnow() + timedelta(seconds=action_hold)

    # The shopper (or a script) never authenticates: the units return after the short hold.
    with app.extensions["peakshop"].database.transaction() as session:
        assert expire_reservations(session, now=hold_ends + timedelta(seconds=1)) == \
            [order["order_id"]]
    assert available(api.client, shop.slug, "LAUNCH") == 5

    # Authenticating after the hold ended pays Stripe, and the payment is given back.
    [waiting] = intents_for(stripe_client, order["order_id"])
    authenticate(localstripe.url, waiting["id"], waiting["client_secret"], success=True)
    delivered = post_event(api.client, event_body(SUCCEEDED_EVENT,
                                                  intent(stripe_client, waiting["id"])))
    assert delivered.status_code == 200 and delivered.get_json()["outcome"] == "refunded"
    assert stored_order(app, order["order_id"]).status == "cancelled"
    assert available(api.client, shop.slug, "LAUNCH") == 5

