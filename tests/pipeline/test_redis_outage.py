"""Redis goes down during checkout traffic: no order is lost, no request ends in a 500.

The storefront runs as `peakshop serve` (gunicorn, two processes with threads) on a Redis
server of its own that the test stops and starts again; a worker process runs throughout.
Some checkouts are caught exactly in the gap: their cart was read before Redis stopped, and
their order is paid after — only the database outbox knows about them then.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import requests

from shop.core.db import Database
from shop.orders.heartbeat import heartbeat_age_s
from tests.pipeline.storefront import CHECKOUT_BODY, Shoppers, Storefront
from tests.pipeline.support import (
    ShopState,
    database_write_lock,
    metric_values,
    start_worker,
    subprocess_env,
    wait_until,
)
from tests.support.servers import RedisServer, free_port

CAUGHT_IN_THE_GAP = 3


@pytest.fixture
def own_redis():
    server = RedisServer.start()
    yield server
    server.stop()


def in_flight(storefront: Storefront) -> float:
    text = requests.get(storefront.url + "/metrics", timeout=10).text
    return metric_values(text).get("peakshop_http_requests_in_flight", 0.0)


def test_orders_survive_a_redis_outage(database_url, own_redis, tmp_path):
    env = subprocess_env({
        "PEAKSHOP_DATABASE_URL": database_url, "PEAKSHOP_REDIS_URL": own_redis.url,
        "PEAKSHOP_SECRET_KEY": "test-secret", "PEAKSHOP_LOG_JSON": "false",
        "PEAKSHOP_INSTANCE_PATH": str(tmp_path / "instance"),
        "PEAKSHOP_WORKER_CLAIM_IDLE_MS": "1000", "PEAKSHOP_WORKER_BLOCK_MS": "200",
        "PEAKSHOP_WORKER_RELAY_INTERVAL_S": "0.2", "PEAKSHOP_WORKER_MAIL_INTERVAL_S": "0.2"})
    storefront = Storefront.start(env, free_port(), tmp_path / "storefront.log")
    worker = start_worker(env, tmp_path, "survivor")
    heartbeat = str(tmp_path / "instance" / "worker.heartbeat")
    wait_until(lambda: heartbeat_age_s(heartbeat) is not None, "the worker to start")
    state = ShopState(Database(database_url))
    try:
        _run_outage(storefront, own_redis, state)
    finally:
        worker.stop()
        storefront.stop()
        state.database.dispose()


def _run_outage(storefront: Storefront, redis_server: RedisServer, state: ShopState) -> None:
    url = storefront.url
    owner = requests.post(url + "/api/v1/merchants", timeout=30, json={
        "name": "Nordpol", "email": "owner@example.com", "password": "correct horse battery"})
    slug, token = owner.json()["merchant"]["slug"], owner.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    created = requests.post(f"{url}/api/v1/shops/{slug}/products", headers=auth, timeout=30,
                            json={"sku": "MUG", "name": "Mug", "price": 1250, "stock": 10_000})
    assert created.status_code == 201, created.text
    shoppers = Shoppers(url, slug, "MUG")

    shoppers.start()
    wait_until(lambda: shoppers.count("checkout", 201) >= 10, "orders before the outage")
    shoppers.stop()

    # Carts read, then held at the database while Redis goes away.
    carts = []
    for _ in range(CAUGHT_IN_THE_GAP):
        cart_id = requests.post(f"{url}/api/v1/shops/{slug}/carts", timeout=30).json()["cart_id"]
        requests.put(f"{url}/api/v1/carts/{cart_id}/items/MUG", json={"quantity": 2},
                     timeout=30).raise_for_status()
        carts.append((cart_id, uuid.uuid4().hex))
    first_answers: dict[str, requests.Response] = {}

    def check_out(cart_id: str, key: str) -> None:
        first_answers[cart_id] = requests.post(f"{url}/api/v1/carts/{cart_id}/checkout",
                                               json=CHECKOUT_BODY, timeout=120,
                                               headers={"Idempotency-Key": key})

    gap = [threading.Thread(target=check_out, args=cart) for cart in carts]
    with database_write_lock(state.database.url):
        for thread in gap:
            thread.start()
        # Each is inside its view (the scrape itself is one more request in flight).
        wait_until(lambda: in_flight(storefront) >= CAUGHT_IN_THE_GAP + 1,
                   "the checkouts to wait at the database", interval_s=0.1)
        redis_server.stop()
        shoppers.start()
    for thread in gap:
        thread.join(timeout=120)
    wait_until(lambda: shoppers.count("cart", 503) >= 10, "shoppers turned away meanwhile")
    assert requests.get(url + "/readyz", timeout=10).status_code == 503
    assert requests.get(url + "/metrics", timeout=10).status_code == 200

    redis_server.restart()
    accepted_before = shoppers.count("checkout", 201)
    wait_until(lambda: shoppers.count("checkout", 201) >= accepted_before + 10,
               "orders after the outage")
    shoppers.stop()

    # The shoppers caught in the gap were told to retry; the retry finds their order.
    retries = {cart_id: requests.post(f"{url}/api/v1/carts/{cart_id}/checkout",
                                      json=CHECKOUT_BODY, timeout=60,
                                      headers={"Idempotency-Key": key})
               for cart_id, key in carts}
    accepted = {o.order_id for o in shoppers.outcomes if o.order_id}
    accepted |= {response.json()["order_id"] for response in retries.values()}
    wait_until(lambda: state.count("paid") == 0 and state.unrelayed_outbox() == 0,
               "every paid order relayed and confirmed")

    for response in [*first_answers.values(), *retries.values()]:
        shoppers.record("checkout", response)
    outcomes = shoppers.outcomes
    assert {o.status for o in outcomes} <= {200, 201, 503}, "a request failed otherwise"
    assert all(o.retry_after for o in outcomes if o.status == 503)
    for cart_id, _ in carts:
        # Paid while Redis was down (the cart could not be cleared: 503); kept, not charged twice.
        assert first_answers[cart_id].status_code == 503, first_answers[cart_id].text
        assert retries[cart_id].status_code == 201, retries[cart_id].text
        assert retries[cart_id].headers["Idempotent-Replayed"] == "true"
    assert state.order_ids() == state.order_ids("confirmed") == accepted
    assert sorted(mail.order_id for mail in state.mails()) == sorted(accepted)
    assert state.product("MUG") == (10_000 - len(accepted) - CAUGHT_IN_THE_GAP, 0)

    # Every gunicorn process's requests are in the one /metrics answer (the multiprocess
    # folder is the one `peakshop serve` chose itself).
    served = metric_values(requests.get(url + "/metrics", timeout=10).text)
    checkouts_counted = sum(value for name, value in served.items()
                            if name.startswith("peakshop_http_requests_total{")
                            and "/checkout" in name)
    assert checkouts_counted == sum(1 for o in outcomes if o.step == "checkout")
