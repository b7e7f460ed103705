"""A batch's statements: one array parameter for the batch on PostgreSQL, `IN` lists on SQLite,
and the acknowledgement that rides with the worker's next read.

Whatever a message carries as its order id, the batch confirms its own paid orders, takes
each product's sold units once, writes one mail per order, and acknowledges every entry.
"""

from __future__ import annotations

import threading

import pytest

from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders.confirm import confirm_paid_orders
from shop.orders.consumer import Consumer
from shop.orders.heartbeat import Heartbeat
from shop.orders.links import OrderLinks
from shop.orders.metrics import WorkerStats
from shop.orders.worker_settings import WorkerSettings
from tests.pipeline.support import buy_many, pending_of

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies

UNUSUAL_IDS = ["x'; DROP TABLE orders; --", "a,b", '{"}', "NULL", "é" * 40, "\\", " ", "ß\t\n"]


def test_unusual_ids_beside_real_orders_change_nothing_else(api, shop, app, state):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=20)
    api.add_product(shop, "CAP", stock=20)
    mugs = buy_many(api, shop, 2)
    [caps] = [api.buy(shop, "CAP", 3).get_json()["order_id"]]
    wanted = [*mugs, *UNUSUAL_IDS, caps, mugs[0]]
    with database.transaction() as session:
        result = confirm_paid_orders(session, wanted, utcnow(),
                                     OrderLinks("https://shop.example", "secret"))
    assert sorted(result.confirmed) == sorted([*mugs, caps])
    assert sorted(result.skipped) == sorted(UNUSUAL_IDS)
    # Each product's sold units leave stock and reservations once, whatever the batch's
    # order of ids and its repeats.
    assert state.product("MUG") == (18, 0)
    assert state.product("CAP") == (17, 0)
    mails = state.mails()
    assert sorted(mail.order_id for mail in mails) == sorted([*mugs, caps])
    cap_mail = next(mail for mail in mails if mail.order_id == caps)
    assert "3 x Product CAP" in cap_mail.body
    assert f"https://shop.example/orders/{caps}?token=" in cap_mail.body


def test_a_batch_of_only_unusual_ids_writes_nothing(api, shop, app, state):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=5)
    [order_id] = buy_many(api, shop, 1)
    with database.transaction() as session:
        result = confirm_paid_orders(session, UNUSUAL_IDS, utcnow())
    assert result.confirmed == []
    assert state.count("paid") == 1 and state.mails() == []
    assert state.product("MUG") == (5, 1)
    assert order_id not in result.skipped


def test_the_acknowledgement_rides_with_the_next_read(redis_client):
    queue.ensure_group(redis_client)
    for order_id in ("a", "b", "c"):
        queue.append(redis_client, "order.paid", order_id, 0)
    first = queue.read_new(redis_client, "w1", 10, 100)
    assert [delivery.order_id for delivery in first] == ["a", "b", "c"]
    assert pending_of(redis_client, "w1") == 3
    queue.append(redis_client, "order.paid", "d", 0)

    second = queue.read_new(redis_client, "w1", 10, 100,
                            acknowledging=[d.entry_id for d in first], confirmed=2)

    assert [delivery.order_id for delivery in second] == ["d"]
    assert pending_of(redis_client, "w1") == 1  # only the entry just read
    assert queue.confirmed_total(redis_client) == 2


def test_a_batch_finished_as_the_worker_stops_is_still_acknowledged(api, shop, app, state,
                                                                    redis_client, tmp_path):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=10)
    order_ids = buy_many(api, shop, 3)  # checkout puts each paid order on the stream
    settings = WorkerSettings(consumer="w1", heartbeat_file=str(tmp_path / "heartbeat"),
                              block_ms=100)
    stop = threading.Event()
    consumer = Consumer(database, redis_client, settings, stop,
                        Heartbeat(settings.heartbeat_file, settings.consumer), WorkerStats())
    queue.ensure_group(redis_client)
    deliveries = queue.read_new(redis_client, "w1", 10, 100)
    assert sorted(delivery.order_id for delivery in deliveries) == sorted(order_ids)

    consumer.handle(deliveries)
    stop.set()  # the stop comes before the next read would have carried the XACK
    consumer.run()

    assert state.count("confirmed") == 3
    assert pending_of(redis_client, "w1") == 0
    assert queue.confirmed_total(redis_client) == 3
