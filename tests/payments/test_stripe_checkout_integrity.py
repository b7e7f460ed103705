"""Checkout integrity through the stripe gateway: one PaymentIntent per cart, brief 3-D Secure
holds.

localstripe stands in for Stripe's API: the app creates real PaymentIntents on it with the
official `stripe` library, and the tests count them through Stripe's list API.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from shop.core.timeutil import utcnow
from shop.orders.service import expire_reservations
from tests.payments.stripe_testkit import (
    API_KEY,
    SUCCEEDED_EVENT,
    THREE_D_SECURE_CARD,
    WEBHOOK_SECRET,
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
from tests.support.api import ADDRESS
from tests.support.live import LiveServer

RACERS = 10
LIVE_RACERS = 50


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



@pytest.fixture
def live_stripe_server(database_url, redis_client, redis_server, localstripe, tmp_path):
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=2, threads=8,
                              extra_env={"PEAKSHOP_PAYMENT_GATEWAY": "stripe",
                                         "STRIPE_API_KEY": API_KEY,
                                         "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                                         "STRIPE_API_BASE": localstripe.url})
    yield server
    server.stop()


def test_fifty_keys_over_gunicorn_make_one_payment_intent(live_stripe_server, stripe_client):
    """As tests/shop/test_concurrency.py, with Stripe: 50 checkouts of one cart under 50
    Idempotency-Keys through `peakshop serve`; localstripe holds one PaymentIntent."""
    base = live_stripe_server.url + "/api/v1"
    merchant = requests.post(f"{base}/merchants", json={
        "name": "Stripe Race", "email": "race@example.com", "password": "long enough"}).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    assert requests.post(f"{base}/shops/{slug}/products", headers=auth, json={
        "sku": "MUG", "name": "Mug", "price": 1250, "stock": 100}).status_code == 201
    cart_id = requests.post(f"{base}/shops/{slug}/carts").json()["cart_id"]
    assert requests.put(f"{base}/carts/{cart_id}/items/MUG",
                        json={"quantity": 2}).status_code == 200
    before = {found["id"] for found in all_intents(stripe_client)}
    start = threading.Barrier(LIVE_RACERS)

    def attempt(number: int) -> requests.Response:
        with requests.Session() as session:
            start.wait()
            return session.post(f"{base}/carts/{cart_id}/checkout",
                                headers={"Idempotency-Key": f"attempt-{number}"},
                                json={"email": "s@example.com", "shipping_address": ADDRESS,
                                      "payment": {"gateway": "stripe",
                                                  "token": "pm_card_visa"}},
                                timeout=60)

    with ThreadPoolExecutor(LIVE_RACERS) as pool:
        responses = list(pool.map(attempt, range(LIVE_RACERS)))

    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 1 and statuses.count(409) == LIVE_RACERS - 1, statuses
    [paid] = [response.json() for response in responses if response.status_code == 201]
    assert paid["status"] == "paid"
    created = [found for found in all_intents(stripe_client) if found["id"] not in before]
    assert [(found["metadata"]["order_id"], found["amount"], found["status"])
            for found in created] == [(paid["order_id"], 2500, "succeeded")]
