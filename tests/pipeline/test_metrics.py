"""`/metrics` reports the order queue as Redis itself sees it, and orders as the database does."""

from __future__ import annotations

import pytest

from common import order_stream
from shop import create_app
from shop.orders import queue
from shop.orders.metrics import init_app as init_order_metrics
from tests.pipeline.support import buy_many, metric_values, wait_until
from tests.support.servers import free_port

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return metric_values(response.get_data(as_text=True))


def oldest_pending_age_s(client) -> float:
    """Age of the oldest pending entry, read directly: XPENDING's smallest id against TIME."""
    seconds, micros = client.time()
    oldest = client.xpending(order_stream.STREAM, order_stream.GROUP)["min"]
    return (seconds * 1000 + micros // 1000 - order_stream.stream_id_ms(oldest)) / 1000


def test_queue_gauges_match_the_stream(api, shop, client, redis_client, state, worker_env,
                                       workers):
    api.add_product(shop, "MUG", stock=100)
    buy_many(api, shop, 12)
    waiting = scrape(client)
    # No worker has joined yet: everything in the stream waits.
    assert waiting["peakshop_queue_length"] == redis_client.xlen(order_stream.STREAM) == 12
    assert waiting["peakshop_queue_pending"] == 0
    assert waiting['peakshop_orders{status="paid"}'] == 12

    queue.ensure_group(redis_client)
    redis_client.xreadgroup(order_stream.GROUP, "probe", {order_stream.STREAM: ">"}, count=5)
    age_before = oldest_pending_age_s(redis_client)
    held = scrape(client)
    age_after = oldest_pending_age_s(redis_client)
    group = redis_client.xinfo_groups(order_stream.STREAM)[0]
    assert held["peakshop_queue_length"] == group["lag"] + group["pending"] == 12
    assert held["peakshop_queue_pending"] == redis_client.xpending(
        order_stream.STREAM, order_stream.GROUP)["pending"] == 5
    assert age_before <= held["peakshop_queue_oldest_age_seconds"] <= age_after
    assert held["peakshop_orders_confirmed_total"] == 0

    workers(worker_env, "drainer")  # takes over the probe's five once they are idle
    wait_until(lambda: state.count("confirmed") == 12, "every order confirmed")
    wait_until(lambda: order_stream.queue_depth(redis_client).length == 0, "the queue drained")
    drained = scrape(client)
    assert drained["peakshop_queue_length"] == drained["peakshop_queue_pending"] == 0
    assert drained["peakshop_queue_oldest_age_seconds"] == 0
    assert drained["peakshop_orders_confirmed_total"] == 12
    assert drained['peakshop_orders{status="confirmed"}'] == 12
    assert drained['peakshop_orders{status="paid"}'] == 0


def test_metrics_answer_while_redis_is_down(settings_overrides, api, shop):
    api.add_product(shop, "MUG", stock=5)
    assert api.buy(shop, "MUG").status_code == 201
    cut_off = create_app({**settings_overrides,
                          "redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    init_order_metrics(cut_off)
    try:
        values = scrape(cut_off.test_client())
    finally:
        cut_off.extensions["peakshop"].database.dispose()
    assert values["peakshop_queue_up"] == 0
    assert "peakshop_queue_length" not in values
    assert values['peakshop_orders{status="paid"}'] == 1
