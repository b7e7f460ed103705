"""Stock never lies: shoppers racing for the last units over real HTTP never oversell."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.api import ADDRESS
from tests.support.live import LiveServer

SHOPPERS = 50
UNITS = 10


@pytest.fixture
def live_server(database_url, redis_client, redis_server, tmp_path):
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=2, threads=8)
    yield server
    server.stop()


def test_fifty_checkouts_racing_for_ten_units(live_server):
    """50 shoppers, each with 1 unit in their cart, check out at the same instant."""
    base = live_server.url + "/api/v1"
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
