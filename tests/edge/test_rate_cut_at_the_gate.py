"""`auto` behind the gate: a queue of let-in requests far over its target halves the
admission rate within a second (a web process would ask 10% off). The gate runs in front of
gunicorn serving the stand-in app (`slow_app`, slow on demand, which the storefront cannot
be), with a real redis-server holding the line.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from shop.waiting_room.service import room_key
from shop.waiting_room.tickets import Tickets
from tests.edge.conftest import start_gate

pytestmark = pytest.mark.slow
ROOM = "Peakshop-Waiting-Room"


def test_a_long_queue_of_let_in_requests_halves_the_rate_within_a_second(slow_app, gate_redis,
                                                                         tmp_path):
    client = redis.Redis.from_url(gate_redis.url)
    client.delete(room_key("acme"))
    # An open room admitting 40 visitors a second, due to be tuned at the next decision.
    client.hset(room_key("acme"), mapping={"mode": "auto", "name": "Acme", "open": "1",
                                           "rate": "40", "issued": "0", "serving": "0",
                                           "tuned_at": "0", "intake": "40"})
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path,
                      PEAKSHOP_GATE_UPSTREAM_CONCURRENCY="1")
    let_in = {ROOM: Tickets("gate-test-secret", 600).admission("acme")}
    slow = f"{gate.url}/api/v1/shops/acme/products?sleep_s=0.2"
    try:
        with ThreadPoolExecutor(max_workers=30) as pool:
            # 30 visitors let in at once: one in gunicorn, the rest queue at the gate (~6 s).
            flood = [pool.submit(requests.get, slow, headers=let_in, timeout=60)
                     for _ in range(30)]
            # Once a few are served the gate has measured gunicorn's time per request, and
            # ~20 let-in requests still queue: ~1.5 s of wait against a target of 0.25 s.
            while sum(answer.done() for answer in flood) < 8:
                time.sleep(0.02)
            assert float(client.hget(room_key("acme"), "rate")) == 40.0   # nobody asked yet
            newcomer = requests.get(f"{gate.url}/api/v1/shops/acme/products/MUG")
            assert newcomer.status_code == 503 and newcomer.json()["code"] == "waiting_room"
            assert float(client.hget(room_key("acme"), "rate")) == pytest.approx(20.0)
            assert all(answer.result().status_code == 200 for answer in flood)
    finally:
        gate.stop()


def test_a_queue_that_stood_a_second_is_cut_whatever_gunicorns_clock_says(slow_app, gate_redis,
                                                                          tmp_path):
    """The same flood, but each request's 0.2 s is spent after gunicorn's clock stopped (the
    stand-in's `lag_s`: time gunicorn's own clock does not count, as the pauses a CPU limit
    puts between its requests are not). gunicorn tells the gate it spent ~0 s on each, yet
    the let-in requests finish five a second and the queue stands: judged by what drains
    (Little's law), it is seconds long, and the rate is cut as deep as it goes. A queue that
    has not stood a whole second is judged by gunicorn's clock (tests/edge/test_slots.py)."""
    client = redis.Redis.from_url(gate_redis.url)
    client.delete(room_key("acme"))
    client.hset(room_key("acme"), mapping={"mode": "auto", "name": "Acme", "open": "1",
                                           "rate": "40", "issued": "0", "serving": "0",
                                           "tuned_at": "0", "intake": "40"})
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path,
                      PEAKSHOP_GATE_UPSTREAM_CONCURRENCY="1")
    let_in = {ROOM: Tickets("gate-test-secret", 600).admission("acme")}
    lagging = f"{gate.url}/api/v1/shops/acme/products?lag_s=0.2"
    try:
        with ThreadPoolExecutor(max_workers=30) as pool:
            flood = [pool.submit(requests.get, lagging, headers=let_in, timeout=60)
                     for _ in range(30)]
            while sum(answer.done() for answer in flood) < 8:
                time.sleep(0.02)
            newcomer = requests.get(f"{gate.url}/api/v1/shops/acme/products/MUG")
            assert newcomer.status_code == 503 and newcomer.json()["code"] == "waiting_room"
            assert float(client.hget(room_key("acme"), "rate")) == pytest.approx(20.0)
            answers = [answer.result() for answer in flood]
            assert all(answer.status_code == 200 for answer in answers)
            # gunicorn's time is the gate's business only: it never reaches the client.
            assert not any("Peakshop-Service-Time" in answer.headers for answer in answers)
    finally:
        gate.stop()
