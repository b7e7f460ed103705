"""Workers die and stop; orders are neither lost nor confirmed twice.

Real worker processes, real signals, real Redis, SQLite and PostgreSQL. To catch a worker
with a batch in hand, the test holds the database's write lock: the worker reads its batch
from the stream (the entries become pending with it) and then waits for the lock.
"""

from __future__ import annotations

import signal

import pytest
import requests

from common import order_stream
from shop.orders import queue
from shop.orders.worker import EXIT_GRACE_EXPIRED
from tests.pipeline.support import (
    buy_many,
    database_write_lock,
    metric_values,
    pending_of,
    wait_until,
)
from tests.support.servers import free_port

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies


def assert_each_confirmed_once(state, order_ids: list[str], sku: str, initial_stock: int,
                               mail_dir) -> None:
    """Every order confirmed; stock, carrier bookings and mails counted exactly once."""
    assert state.order_ids("confirmed") == set(order_ids)
    assert state.product(sku) == (initial_stock - len(order_ids), 0)
    mails = state.mails()
    assert sorted(mail.order_id for mail in mails) == sorted(order_ids)
    orders = state.orders()
    assert all(order.promised_delivery_date for order in orders)
    assert sum(state.carrier_days().values()) == sum(1 for order in orders if order.carrier_id)
    wait_until(lambda: all(mail.status == "sent" for mail in state.mails()), "every mail sent")
    assert len(list(mail_dir.glob("*.eml"))) == len(order_ids)


def test_orders_of_a_killed_worker_are_reclaimed_and_confirmed_once(
        api, shop, state, redis_client, worker_env, workers, database_url, settings_overrides,
        tmp_path):
    api.add_product(shop, "MUG", stock=500)
    for name, capacity, priority in (("Fast", 15, 0), ("Slow", 1000, 1)):
        response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                                   json={"name": name, "daily_capacity": capacity,
                                         "transit_days": 2, "priority": priority})
        assert response.status_code == 201, response.get_json()
    env = {**worker_env, "PEAKSHOP_WORKER_BATCH_SIZE": "5"}
    first_burst = buy_many(api, shop, 10)
    # The doomed worker's chores (a second thread) run only once, at its start: frozen in a
    # chore's transaction it would hold SQLite's one write lock, and every checkout of the
    # burst below would be refused. Its heir relays and sends everything, the first
    # burst's mails included.
    quiet_chores = {f"PEAKSHOP_WORKER_{chore}_INTERVAL_S": "3600" for chore in (
        "RELAY", "MAIL", "EXPIRE", "ORPHAN", "WEBHOOK", "BURN_RATE")}
    doomed = workers({**env, **quiet_chores}, "doomed")
    wait_until(lambda: state.count("confirmed") == 10, "the first burst confirmed")
    # A batch is acknowledged just after its commit: frozen in between, the worker would still
    # hold the first burst's last batch, and "a batch in hand" below would read that one.
    wait_until(lambda: pending_of(redis_client, "doomed") == 0, "the first burst acknowledged")

    # The burst goes on while the worker is frozen; thawed, it takes a batch it never finishes.
    doomed.signal(signal.SIGSTOP)
    second_burst = buy_many(api, shop, 20)
    with database_write_lock(database_url):
        doomed.signal(signal.SIGCONT)
        in_hand = wait_until(lambda: pending_of(redis_client, "doomed"),
                             "the worker to take a batch")
        doomed.signal(signal.SIGKILL)
        assert doomed.wait() == -signal.SIGKILL
    assert state.count("confirmed") == 10
    assert pending_of(redis_client, "doomed") == in_hand, doomed.log[-3000:]

    metrics_port = free_port()
    workers(env, "heir", "--metrics-port", str(metrics_port))
    wait_until(lambda: state.count("confirmed") == 30, "every order confirmed")
    wait_until(lambda: order_stream.queue_depth(redis_client).length == 0, "the queue drained")

    assert_each_confirmed_once(state, first_burst + second_burst, "MUG", 500,
                               tmp_path / "instance" / "mail")
    assert sorted(state.carrier_days().values()) == [15, 15]
    heir = metric_values(requests.get(f"http://127.0.0.1:{metrics_port}/metrics",
                                      timeout=10).text)
    assert heir["peakshop_worker_reclaimed_total"] >= in_hand
    assert queue.confirmed_total(redis_client) == 30


def test_sigterm_lets_the_batch_in_hand_finish(api, shop, state, redis_client, worker_env,
                                               workers, database_url, tmp_path):
    api.add_product(shop, "MUG", stock=100)
    order_ids = buy_many(api, shop, 12)
    env = {**worker_env, "PEAKSHOP_WORKER_BATCH_SIZE": "5"}
    with database_write_lock(database_url):
        stopping = workers(env, "stopping")
        in_hand = wait_until(lambda: pending_of(redis_client, "stopping"),
                             "the worker to take a batch")
        stopping.signal(signal.SIGTERM)
        wait_until(lambda: "stop requested" in stopping.log, "the worker to hear SIGTERM")
    # Finished within its grace period: status 0, not EXIT_GRACE_EXPIRED.
    assert stopping.wait() == 0, stopping.log
    assert pending_of(redis_client, "stopping") == 0
    assert state.count("confirmed") == in_hand  # the batch in hand, and no further one

    workers(env, "successor")
    wait_until(lambda: state.count("confirmed") == 12, "every order confirmed")
    assert_each_confirmed_once(state, order_ids, "MUG", 100, tmp_path / "instance" / "mail")
    # A shop without carriers of its own ships with the built-in service.
    listed = api.client.get(f"/api/v1/shops/{shop.slug}/orders", headers=shop.auth).get_json()
    assert {order["carrier"] for order in listed["items"]} == {"Standard shipping"}


def test_sigterm_past_the_grace_period_leaves_the_batch_to_others(
        api, shop, state, redis_client, worker_env, workers, database_url, tmp_path):
    api.add_product(shop, "MUG", stock=100)
    order_ids = buy_many(api, shop, 8)
    env = {**worker_env, "PEAKSHOP_WORKER_BATCH_SIZE": "5", "PEAKSHOP_WORKER_GRACE_S": "1"}
    with database_write_lock(database_url):
        stuck = workers(env, "stuck")
        in_hand = wait_until(lambda: pending_of(redis_client, "stuck"),
                             "the worker to take a batch")
        stuck.signal(signal.SIGTERM)
        assert stuck.wait() == EXIT_GRACE_EXPIRED, stuck.log
        assert pending_of(redis_client, "stuck") == in_hand
    assert state.count("confirmed") == 0

    workers(env, "successor")
    wait_until(lambda: state.count("confirmed") == 8, "every order confirmed")
    assert_each_confirmed_once(state, order_ids, "MUG", 100, tmp_path / "instance" / "mail")
