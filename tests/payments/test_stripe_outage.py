"""While Stripe is unreachable checkout keeps the order, and a retry finishes it.

localstripe stands in for Stripe's API. This module runs its own localstripe process, so
stopping and restarting it leaves the other tests' server alone.
"""

from __future__ import annotations

import pytest

from tests.payments.localstripe_server import LocalStripe
from tests.payments.stripe_testkit import available, cart_with, checkout, intents_for


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory):
    server = LocalStripe.start(log_path=str(tmp_path_factory.mktemp("localstripe") / "log"))
    yield server
    server.stop()


def test_checkout_answers_503_while_stripe_is_down_and_a_retry_completes_it(
        api, shop, localstripe, stripe_client):
    api.add_product(shop, "MUG", stock=3)
    cart_id = cart_with(api, shop, "MUG", 1)
    localstripe.stop()
    try:
        down = checkout(api.client, cart_id, token="pm_card_visa", key="christmas-gift-1")
    finally:
        localstripe.restart()
    assert down.status_code == 503
    assert down.mimetype == "application/problem+json"
    assert int(down.headers["Retry-After"]) > 0
    listed = api.client.get(f"/api/v1/shops/{shop.slug}/orders", headers=shop.auth).get_json()
    [kept] = listed["items"]
    assert kept["status"] == "pending_payment"
    assert available(api.client, shop.slug, "MUG") == 2

    retry = checkout(api.client, cart_id, token="pm_card_visa", key="christmas-gift-1")
    assert retry.status_code == 201, retry.get_json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.get_json()["order_id"] == kept["order_id"]
    assert retry.get_json()["status"] == "paid"
    [paid] = intents_for(stripe_client, kept["order_id"])
    assert paid["status"] == "succeeded"
    assert available(api.client, shop.slug, "MUG") == 2
