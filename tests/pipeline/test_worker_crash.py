"""Workers die and stop; orders are neither lost nor confirmed twice.

Real worker processes, real signals, real Redis, SQLite and PostgreSQL. To catch a worker
with a batch in hand, the test holds the database's write lock: the worker reads its batch
from the stream (the entries become pending with it) and then waits for the lock.
"""

from __future__ import annotations

import signal

import requests

from shop.orders import queue
from shop.orders.worker import EXIT_GRACE_EXPIRED
from tests.pipeline.support import (
    database_write_lock,
    metric_values,
    pending_of,
    wait_until,
)
from tests.support.servers import free_port


def buy_many(api, shop, count: int, sku: str = "MUG") -> list[str]:
    order_ids = []
    for _ in range(count):
        response = api.buy(shop, sku)
        assert response.status_code == 201, response.get_json()
        order_ids.append(response.get_json()["order_id"])
    return order_ids


def assert_each_confirmed_once(state, order_ids: list[str], sku: str, initial_stock: int,
                               mail_dir) -> None:
    """Every order confirmed; stock, carrier bookings and mails counted exactly once."""
    assert state.order_ids("confirmed") == set(order_ids)
    assert state.product(sku) == (initial_stock - len(order_ids), 0)
    mails = state.mails()
    assert sorted(mail.order_id for mail in mails) == sorted(order_ids)
    assert sum(state.carrier_days().values()) == len(order_ids)
    wait_until(lambda: all(mail.status == "sent" for mail in state.mails()), "every mail sent")
    assert len(list(mail_dir.glob("*.eml"))) == len(order_ids)


def test_orders_of_a_killed_worker_are_reclaimed_and_confirmed_once(
        api, shop, state, redis_client, worker_env, workers, database_url, settings_overrides,
        tmp_path):
    api.add_product(shop, "MUG", stock=500)
    for name, capacity, priority in (("Fast", 25, 0), ("Slow", 1000, 1)):
        response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                                   json={"name": name, "daily_capacity": capacity,
                                         "transit_days": 2, "priority": priority})
        assert response.status_code == 201, response.get_json()
    env = {**worker_env, "PEAKSHOP_WORKER_BATCH_SIZE": "5"}
    first_burst = buy_many(api, shop, 20)
    doomed = workers(env, "doomed")
    wait_until(lambda: state.count("confirmed") == 20, "the first burst confirmed")

    # The burst goes on while the worker is frozen; thawed, it takes a batch it never finishes.
    doomed.signal(signal.SIGSTOP)
    second_burst = buy_many(api, shop, 40)
    with database_write_lock(database_url):
        doomed.signal(signal.SIGCONT)
        in_hand = wait_until(lambda: pending_of(redis_client, "doomed"),
                             "the worker to take a batch")
        doomed.signal(signal.SIGKILL)
        assert doomed.wait() == -signal.SIGKILL
    assert state.count("confirmed") == 20
    assert pending_of(redis_client, "doomed") == in_hand

    metrics_port = free_port()
    workers(env, "heir", "--metrics-port", str(metrics_port))
    wait_until(lambda: state.count("confirmed") == 60, "every order confirmed")
    wait_until(lambda: queue.queue_depth(redis_client).length == 0, "the queue drained")

    assert_each_confirmed_once(state, first_burst + second_burst, "MUG", 500,
                               tmp_path / "instance" / "mail")
    heir = metric_values(requests.get(f"http://127.0.0.1:{metrics_port}/metrics",
                                      timeout=10).text)
    assert heir["peakshop_worker_reclaimed_total"] >= in_hand
    assert queue.confirmed_total(redis_client) == 60


def test_sigterm_lets_the_batch_in_hand_finish(api, shop, state, redis_client, worker_env,
                                               workers, database_url, tmp_path):
    api.add_product(shop, "MUG", stock=100)
    order_ids = buy_many(api, shop, 20)
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
    wait_until(lambda: state.count("confirmed") == 20, "every order confirmed")
    assert_each_confirmed_once(state, order_ids, "MUG", 100, tmp_path / "instance" / "mail")


def test_sigterm_past_the_grace_period_leaves_the_batch_to_others(
        api, shop, state, redis_client, worker_env, workers, database_url, tmp_path):
    api.add_product(shop, "MUG", stock=100)
    order_ids = buy_many(api, shop, 12)
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
    wait_until(lambda: state.count("confirmed") == 12, "every order confirmed")
    assert_each_confirmed_once(state, order_ids, "MUG", 100, tmp_path / "instance" / "mail")
