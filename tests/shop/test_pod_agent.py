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
from scaler.signals.procfs import children_of
from shop.core.pod_agent import (
    BusyWorkers,
    CpuFollower,
    PodAgent,
    cpu_limit_cores,
    shoppers_port,
    workers_for_cpu,
)
from shop.core.settings import ConfigError, load_settings
from tests.scaler.live_fixtures import wait_until
from tests.support import published_backlog
from tests.support.live import LiveServer
from tests.support.servers import free_port


def published(client, pod: str) -> int | None:
    """The backlog `pod` last published, if fresh."""
    board = pushed_backlog.read(client)
    raw = client.hget(pushed_backlog.KEY, pod)
    if raw is None or pod in board.stale:
        return None
    return int(raw.split()[0])


board_client = published_backlog.board_client


@pytest.fixture
def redis_client(board_client):
    return board_client


@pytest.fixture
def publishing_storefront(sqlite_template, redis_server, redis_client, tmp_path):
    server = published_backlog.start_publishing_pod(sqlite_template, redis_server.url, tmp_path,
                                  "peakshop-web-7d9f-abcde")
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


# --- following the CPU limit (an in-place resize) ----------------------------------------

@pytest.mark.parametrize(("cpu_max", "cores"), [
    ("100000 100000\n", 1.0),
    ("250000 100000", 2.5),
    ("50000 100000", 0.5),
    ("max 100000", None),           # no limit: nothing to follow
    ("", None), ("lots 100000", None), ("100000 0", None), ("-1 100000", None),
])
def test_cpu_max_reads_as_cores(cpu_max, cores):
    assert cpu_limit_cores(cpu_max) == cores


@pytest.mark.parametrize(("cores", "start_cores", "start_workers", "workers"), [
    (1.0, 1.0, 2, 2),               # the template's size: the template's workers
    (2.0, 1.0, 2, 4),               # resized to 2x: twice the workers
    (1.5, 1.0, 2, 3),
    (1.25, 1.0, 2, 2),              # half a worker's CPU is not a worker yet (2.5 -> 2)
    (0.1, 1.0, 2, 1),               # never below one
    (4.0, 0.5, 1, 8),
])
def test_workers_follow_the_cpu_in_the_proportion_the_pod_started_with(
        cores, start_cores, start_workers, workers):
    assert workers_for_cpu(cores, start_cores, start_workers) == workers


def test_a_large_step_is_sent_a_few_signals_per_tick():
    """gunicorn queues at most five signals: a step of 7 arrives over three ticks."""
    sent, workers = [], [1]

    def signal_master(signum):
        sent.append(signum)
        workers[0] += 1 if signum == signal.SIGTTIN else -1

    follower = CpuFollower(lambda: 8.0, lambda: workers[0], signal_master, 1.0, 1)
    follower.tick()
    assert sent == [signal.SIGTTIN] * 3
    follower.tick()
    follower.tick()
    follower.tick()
    assert workers == [8] and len(sent) == 7


@pytest.fixture
def resizable_storefront(sqlite_template, redis_server, tmp_path):
    """A storefront pod whose cgroup `cpu.max` is a file the test writes: no cgroup can be
    controlled here, so PEAKSHOP_CGROUP_CPU_MAX points the master at a stand-in file, with
    the kernel's own format ("<quota> <period>" in microseconds)."""
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")          # the template: one core
    database = tmp_path / "shop.sqlite3"
    shutil.copy(sqlite_template, database)
    server = LiveServer.start(database_url=f"sqlite:///{database}", redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=1,
                              extra_env={"PEAKSHOP_FOLLOW_CPU_LIMIT": "true",
                                         "PEAKSHOP_CGROUP_CPU_MAX": str(cpu_max)})
    yield server, cpu_max
    server.stop()


def test_the_master_turns_added_cpu_into_workers_and_back(resizable_storefront):
    server, cpu_max = resizable_storefront
    master = int(Path(server.pidfile).read_text())
    assert len(children_of(master)) == 1
    cpu_max.write_text("300000 100000\n")          # resized in place to 3 cores
    wait_until(lambda: len(children_of(master)) == 3, 60, what="gunicorn growing to 3 workers")
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    cpu_max.write_text("100000 100000\n")          # and back to the template
    wait_until(lambda: len(children_of(master)) == 1, 60, what="gunicorn back to 1 worker")


# --- busy workers, published beside the backlog ------------------------------------------

slow_request = published_backlog.slow_request


@pytest.fixture
def two_worker_pod(sqlite_template, redis_server, redis_client, tmp_path):
    server = published_backlog.start_two_worker_pod(sqlite_template, redis_server.url,
                                                    tmp_path, "peakshop-web-7d9f-busy1")
    yield server
    server.stop()


def test_a_pod_with_every_worker_busy_says_so_before_anything_queues(two_worker_pod,
                                                                     redis_client):
    wait_until(lambda: pushed_backlog.read(redis_client).busy_share == 0, 30,
               what="the idle pod publishing 0 busy workers")
    board = pushed_backlog.read(redis_client)
    assert (board.waiting, board.busy, board.workers) == (0, 0, 2)
    with slow_request(two_worker_pod.url):
        wait_until(lambda: pushed_backlog.read(redis_client).busy == 1, 30,
                   what="one busy worker of two")
        assert pushed_backlog.read(redis_client).busy_share == 0.5
        with slow_request(two_worker_pod.url):
            wait_until(lambda: (pushed_backlog.read(redis_client).busy_share or 0) >= 0.9, 30,
                       what="both workers busy published")
            board = pushed_backlog.read(redis_client)
            assert (board.waiting, board.workers) == (0, 2)     # nothing queues yet
    wait_until(lambda: pushed_backlog.read(redis_client).busy_share == 0, 30,
               what="the workers free again")
    # and the pod still answers: the slow requests held workers, they broke nothing
    assert requests.get(two_worker_pod.url + "/healthz", timeout=10).status_code == 200


def test_busy_workers_are_published_as_their_mean_over_the_second():
    readings = iter([(2.0, 2), (1.0, 2), (0.0, 2), None, (3.0, 2)])
    busy = BusyWorkers(lambda: next(readings))
    assert busy.take() is None                  # nothing sampled: nothing to say
    for _ in range(5):
        busy.sample()
    # the unknown sample is left out; a reading above the workers counts as all of them
    assert busy.take() == (1.25, 2)
    assert busy.take() is None                  # taken: the next second starts afresh


def test_the_pod_publishes_its_busy_workers_with_its_backlog():
    sent = []
    busy = BusyWorkers(lambda: (1.5, 4))
    busy.sample()
    PodAgent(lambda *reading: sent.append(reading), lambda: 0, busy=busy).tick()
    PodAgent(lambda *reading: sent.append(reading), lambda: 3, busy=busy).tick()
    assert sent == [(0, 1.5, 4), (3,)]          # no sample since: the backlog alone


def test_busy_workers_are_read_from_the_live_workers_in_flight_gauges_only(tmp_path):
    """The files as prometheus_client writes them: the in-flight gauge counts, the gate's
    gauges in the same file do not, nor a worker that is gone; a worker without a file yet
    (forked a moment ago) serves nothing."""
    import json

    from prometheus_client.mmap_dict import MmapedDict

    from shop.core.pod_agent import in_flight_of

    def gauges(pid: int, **values: float) -> None:
        mapped = MmapedDict(str(tmp_path / f"gauge_livesum_{pid}.db"))
        for name, value in values.items():
            mapped.write_value(json.dumps((name, name, [], [], "help"), sort_keys=True),
                               value, 0.0)
        mapped.close()

    gauges(101, peakshop_http_requests_in_flight=1.0, peakshop_gate_upstream_in_flight=7.0)
    gauges(102, peakshop_http_requests_in_flight=2.0)     # a worker with threads
    gauges(999, peakshop_http_requests_in_flight=1.0)     # not one of the live workers
    assert in_flight_of(str(tmp_path), [101, 102, 103]) == 3.0
