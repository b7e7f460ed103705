"""The web pods' listen backlogs as published to Redis, and the scaler's reading of them.

The board's arithmetic is a pure function (a table); publishing and reading run against a
real redis-server, single and as a three-master Redis Cluster (the key carries a hash tag).
"""

from __future__ import annotations

import pytest
import redis

from common import pushed_backlog
from common.pushed_backlog import KEY, BacklogBoard, board_of
from common.redis_url import client_from_url
from scaler.signals.push import PublishedBacklog
from tests.scaler.live_fixtures import wait_until
from tests.support.servers import free_port

NOW_MS = 1_700_000_000_000


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, BacklogBoard(None, 0, ())),                                      # nobody publishes
    ({"web-a": f"3 {NOW_MS - 900}"}, BacklogBoard(3, 1, ())),
    ({"web-a": f"3 {NOW_MS - 900}", "web-b": f"0 {NOW_MS - 100}"}, BacklogBoard(3, 2, ())),
    # a pod that stopped publishing drops out; when all did, nothing is known (not 0)
    ({"web-a": f"3 {NOW_MS - 900}", "gone": f"50 {NOW_MS - 6000}"},
     BacklogBoard(3, 1, ("gone",))),
    ({"gone": f"50 {NOW_MS - 6000}"}, BacklogBoard(None, 0, ("gone",))),
    # garbage is never a reading, and never a backlog of 0
    ({"bad": "lots", "neg": f"-4 {NOW_MS}", "half": "7", "unicode": f"\u00b2 {NOW_MS}",
      "float": f"1.5 {NOW_MS}"},
     BacklogBoard(None, 0, ("bad", "float", "half", "neg", "unicode"))),
    # stamped well after the server's now: not from this server's clock
    ({"future": f"9 {NOW_MS + 60_000}", "web-a": f"1 {NOW_MS + 500}"},
     BacklogBoard(1, 1, ("future",))),
])
def test_the_board_sums_fresh_readings_only(fields, expected):
    assert board_of(fields, NOW_MS) == expected


@pytest.mark.parametrize(("fields", "expected"), [
    ({"web-a": f"0 1.50 2 {NOW_MS}"}, BacklogBoard(0, 1, (), 1.5, 2)),
    # busy workers sum over the pods that say; a pod (or the gate) with its backlog alone
    # still counts its backlog
    ({"web-a": f"0 1.50 2 {NOW_MS}", "web-b": f"2 4 4 {NOW_MS - 900}",
      "gate-a": f"5 {NOW_MS}"}, BacklogBoard(7, 3, (), 5.5, 6)),
    # a stale pod's load drops out with it
    ({"web-a": f"0 1 2 {NOW_MS}", "gone": f"0 2 2 {NOW_MS - 6000}"},
     BacklogBoard(0, 1, ("gone",), 1.0, 2)),
    # garbage: more busy than workers, no workers, not a plain decimal, three parts
    ({"over": f"0 3 2 {NOW_MS}", "none": f"0 0 0 {NOW_MS}", "nan": f"0 nan 2 {NOW_MS}",
      "exp": f"0 1e0 2 {NOW_MS}", "neg": f"0 -1 2 {NOW_MS}", "three": f"0 1 {NOW_MS}",
      "frac": f"0 1 2.5 {NOW_MS}"},
     BacklogBoard(None, 0, ("exp", "frac", "nan", "neg", "none", "over", "three"))),
])
def test_the_board_sums_busy_workers_of_the_pods_that_publish_them(fields, expected):
    assert board_of(fields, NOW_MS) == expected


@pytest.mark.parametrize(("busy", "workers", "share"), [
    (None, None, None), (0.0, 4, 0.0), (3.6, 4, 0.9), (4.0, 4, 1.0)])
def test_the_busy_share_is_of_the_reporting_workers(busy, workers, share):
    assert BacklogBoard(0, 1, (), busy, workers).busy_share == share


def test_a_reading_is_written_as_the_board_reads_it():
    assert pushed_backlog.reading_text(3) == "3"
    assert pushed_backlog.reading_text(0, 1.234, 2) == "0 1.23 2"
    assert pushed_backlog.reading_text(0, 7, 2) == "0 2.00 2"     # never more than workers
    assert board_of({"web-a": pushed_backlog.reading_text(1, 0.5, 3) + f" {NOW_MS}"},
                    NOW_MS) == BacklogBoard(1, 1, (), 0.5, 3)


@pytest.fixture
def client(redis_server):
    connection = client_from_url(redis_server.url, socket_timeout=5)
    connection.delete(KEY)
    yield connection
    connection.delete(KEY)
    connection.close()


@pytest.mark.redis_topologies
def test_published_backlogs_are_summed_over_pods_in_one_key(client, redis_server):
    assert PublishedBacklog(client).waiting() is None      # no pod published yet
    pushed_backlog.publish(client, "web-a", 4)
    pushed_backlog.publish(client, "web-b", 3)
    pushed_backlog.publish(client, "web-a", 5)              # a pod's newer reading replaces
    assert PublishedBacklog(client).waiting() == 8
    pushed_backlog.publish(client, "web-b", 3, 3.5, 4)      # ... also with its busy workers
    assert pushed_backlog.read(client).busy_share == 3.5 / 4
    board = pushed_backlog.read(client)
    assert (board.pods, board.stale) == (2, ())
    # The key lives a few seconds past the last publication, then nothing is known.
    assert 0 < client.pttl(KEY) <= pushed_backlog.FRESH_S * 1000


def test_a_pod_that_stopped_publishing_is_forgotten(client):
    pushed_backlog.publish(client, "web-a", 2)
    seconds, _ = client.time()
    client.hset(KEY, "gone", f"40 {(seconds - 60) * 1000}")   # a pod deleted a minute ago
    client.hset(KEY, "junk", "not a reading")
    assert PublishedBacklog(client).waiting() == 2
    assert sorted(client.hkeys(KEY)) == [b"web-a"]


def test_an_expired_key_reads_as_no_push(client):
    pushed_backlog.publish(client, "web-a", 7)
    assert PublishedBacklog(client).waiting() == 7
    client.pexpire(KEY, 20)        # as if the last pod stopped publishing FRESH_S ago
    wait_until(lambda: not client.exists(KEY), 10, 0.01, what="the key expiring")
    assert PublishedBacklog(client).waiting() is None


def test_an_unreachable_redis_reads_as_no_push(caplog):
    nowhere = redis.Redis(port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    source = PublishedBacklog(nowhere)
    with caplog.at_level("WARNING", logger="peakshop.scaler.push"):
        assert source.waiting() is None
        assert source.waiting() is None
    # said once per outage, not every second
    assert sum("unreadable in Redis" in record.message for record in caplog.records) == 1
