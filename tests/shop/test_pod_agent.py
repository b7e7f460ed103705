"""A storefront pod's gunicorn master publishing its listen backlog to Redis.

`peakshop serve` runs for real (gunicorn, the app, SQLite, a real redis-server) with
PEAKSHOP_PUBLISH_BACKLOG=true and HOSTNAME as Kubernetes sets it; the one worker is stopped
(SIGSTOP: busy) so requests queue in the listen socket, and the pod's field in Redis says so.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from common import pushed_backlog
from common.redis_url import client_from_url
from scaler.signals.procfs import children_of
from shop.core.pod_agent import PodAgent, shoppers_port
from shop.core.settings import ConfigError, load_settings
from tests.scaler.live_fixtures import wait_until
from tests.support.live import LiveServer
from tests.support.servers import free_port


def published(client, pod: str) -> int | None:
    """The backlog `pod` last published, if fresh."""
    board = pushed_backlog.read(client)
    raw = client.hget(pushed_backlog.KEY, pod)
    if raw is None or pod in board.stale:
        return None
    return int(raw.split()[0])


@pytest.fixture
def redis_client(redis_server):
    client = client_from_url(redis_server.url, socket_timeout=5)
    client.delete(pushed_backlog.KEY)
    yield client
    client.delete(pushed_backlog.KEY)
    client.close()


@pytest.fixture
def publishing_storefront(sqlite_template, redis_server, redis_client, tmp_path):
    database = tmp_path / "shop.sqlite3"
    shutil.copy(sqlite_template, database)
    server = LiveServer.start(database_url=f"sqlite:///{database}", redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=1,
                              extra_env={"PEAKSHOP_PUBLISH_BACKLOG": "true",
                                         "HOSTNAME": "peakshop-web-7d9f-abcde"})
    yield server
    server.stop()


def test_a_busy_pod_publishes_its_growing_backlog(publishing_storefront, redis_client):
    pod = "peakshop-web-7d9f-abcde"
    wait_until(lambda: published(redis_client, pod) == 0, 30, what="the pod publishing 0")
    master = int(Path(publishing_storefront.pidfile).read_text())
    (worker,) = children_of(master)
    os.kill(worker, signal.SIGSTOP)   # the only worker is busy: connections queue
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = [pool.submit(requests.get, publishing_storefront.url + "/healthz",
                                   timeout=60) for _ in range(4)]
            wait_until(lambda: (published(redis_client, pod) or 0) >= 4, 30,
                       what="the published backlog reaching the 4 queued requests")
            assert pushed_backlog.read(redis_client).waiting >= 4
            os.kill(worker, signal.SIGCONT)
            assert [answer.result().status_code for answer in answers] == [200] * 4
    finally:
        os.kill(worker, signal.SIGCONT)
    wait_until(lambda: published(redis_client, pod) == 0, 30, what="the backlog drained")


@pytest.mark.parametrize(("environ", "message"), [
    ({"PEAKSHOP_PUBLISH_BACKLOG": "maybe"}, "PEAKSHOP_PUBLISH_BACKLOG must be true or false"),
    ({"PEAKSHOP_PUBLISH_BACKLOG": "true"}, "PEAKSHOP_PUBLISH_BACKLOG=true needs "
                                           "PEAKSHOP_REDIS_URL"),
])
def test_a_publisher_that_cannot_work_stops_start_up_with_one_line(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_off_unless_asked():
    assert load_settings({}).publish_backlog is False
    assert load_settings({"PEAKSHOP_PUBLISH_BACKLOG": "true",
                          "PEAKSHOP_REDIS_URL": "redis://127.0.0.1:6379/0"}).publish_backlog


@pytest.mark.parametrize(("binds", "port"), [
    (["0.0.0.0:8000"], 8000),
    (["unix:/run/gunicorn.sock", "[::]:8080"], 8080),
    (["unix:/run/gunicorn.sock"], None),
])
def test_the_shoppers_port_is_gunicorns_first_tcp_bind(binds, port):
    assert shoppers_port(binds) == port


class SteppedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_unreachable_redis_never_stops_the_pod_and_is_said_once_a_minute(caplog):
    nowhere = redis.Redis(port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    clock = SteppedClock()
    agent = PodAgent(lambda waiting: pushed_backlog.publish(nowhere, "web-a", waiting),
                     lambda: 3, clock=clock)
    with caplog.at_level(logging.WARNING, logger="peakshop.pod_agent"):
        for _ in range(3):
            agent.tick()                 # no exception: the storefront serves on
            clock.now += 1.0
        clock.now += 60.0
        agent.tick()
    assert sum("not published to Redis" in r.message for r in caplog.records) == 2


def test_nothing_is_published_while_the_port_is_not_listening():
    sent = []
    PodAgent(sent.append, lambda: None).tick()
    PodAgent(sent.append, lambda: 2).tick()
    assert sent == [2]
