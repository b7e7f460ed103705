"""Stock never lies: shoppers racing for the last units over real HTTP never oversell."""

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from shop.payments.dummy import charges
from tests.support.api import ADDRESS

SHOPPERS = 50
UNITS = 10




def test_fifty_checkouts_racing_for_ten_units(gunicorn_server):
    """50 shoppers, each with 1 unit in their cart, check out at the same instant."""
    base = gunicorn_server.url + "/api/v1"
    merchant = requests.post(f"{base}/merchants", json={
        "name": "Last Minute", "email": "last@example.com", "password": "long enough"}).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    created = requests.post(f"{base}/shops/{slug}/products", headers=auth, json={
        "sku": "LAST-TEN", "name": "Limited edition", "price": 4900, "stock": UNITS})
    assert created.status_code == 201
    carts = []
    for _ in range(SHOPPERS):
        cart_id = requests.post(f"{base}/shops/{slug}/carts").json()["cart_id"]
        assert requests.put(f"{base}/carts/{cart_id}/items/LAST-TEN",
                            json={"quantity": 1}).status_code == 200
        carts.append(cart_id)

    start = threading.Barrier(SHOPPERS)

    def check_out(cart_id: str) -> int:
        with requests.Session() as session:
            start.wait()
            return session.post(f"{base}/carts/{cart_id}/checkout",
                                headers={"Idempotency-Key": f"race-{cart_id}"},
                                json={"email": "s@example.com", "shipping_address": ADDRESS,
                                      "payment": {"gateway": "dummy", "token": "tok_ok"}},
                                timeout=60).status_code

    with ThreadPoolExecutor(SHOPPERS) as pool:
        statuses = list(pool.map(check_out, carts))

    assert statuses.count(201) == UNITS
    assert statuses.count(409) == SHOPPERS - UNITS
    product = requests.get(f"{base}/shops/{slug}/products/LAST-TEN").json()
    assert product["available"] == 0
    orders = requests.get(f"{base}/shops/{slug}/orders?limit=100", headers=auth).json()
    assert len(orders["items"]) == UNITS
    assert sum(line["quantity"] for order in orders["items"] for line in order["items"]) == UNITS


def test_fifty_checkouts_of_one_cart_with_fifty_keys_pay_once(gunicorn_server, redis_client):
    """One shopper's cart, submitted 50 times at once under 50 different Idempotency-Keys
    (a script, or a browser gone wild): one paid order, one charge at the gateway."""
    base = gunicorn_server.url + "/api/v1"
    merchant = requests.post(f"{base}/merchants", json={
        "name": "Double Tap", "email": "double@example.com", "password": "long enough"}).json()
    slug, auth = merchant["merchant"]["slug"], {"Authorization": f"Bearer {merchant['token']}"}
    assert requests.post(f"{base}/shops/{slug}/products", headers=auth, json={
        "sku": "GIFT", "name": "Gift box", "price": 2500, "stock": 100}).status_code == 201
    cart_id = requests.post(f"{base}/shops/{slug}/carts").json()["cart_id"]
    assert requests.put(f"{base}/carts/{cart_id}/items/GIFT",
                        json={"quantity": 3}).status_code == 200

    start = threading.Barrier(SHOPPERS)

    def check_out(attempt: int) -> requests.Response:
        with requests.Session() as session:
            start.wait()
            return session.post(f"{base}/carts/{cart_id}/checkout",
                                headers={"Idempotency-Key": f"attempt-{attempt}"},
                                json={"email": "s@example.com", "shipping_address": ADDRESS,
                                      "payment": {"gateway": "dummy", "token": "tok_ok"}},
                                timeout=60)

    with ThreadPoolExecutor(SHOPPERS) as pool:
        responses = list(pool.map(check_out, range(SHOPPERS)))

    statuses = [response.status_code for response in responses]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == SHOPPERS - 1, statuses
    [paid] = [response.json() for response in responses if response.status_code == 201]
    assert paid["status"] == "paid" and paid["total"]["amount"] == 7500
    refusals = [response.json() for response in responses if response.status_code == 409]
    assert {problem["code"] for problem in refusals} == {"cart_already_checked_out"}
    assert {problem["order_id"] for problem in refusals} == {paid["order_id"]}
    # Counted where the money moves: the gateway took exactly one payment, for this order.
    assert [(charge["order_id"], charge["amount"]) for charge in charges(redis_client)] == \
        [(paid["order_id"], 7500)]
    orders = requests.get(f"{base}/shops/{slug}/orders?limit=100", headers=auth).json()
    assert [order["order_id"] for order in orders["items"]] == [paid["order_id"]]
    product = requests.get(f"{base}/shops/{slug}/products/GIFT").json()
    assert product["available"] == 97
