"""The whole loop on one machine: real gunicorn, real HTTP load, real Redis, real processes.

Load raises gunicorn's worker count and idleness lowers it again; orders waiting in the
Redis stream start order workers and an emptied queue stops them.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
import requests

from scaler.actuators.local import GunicornWorkers, LocalActuator, WorkerPool
from scaler.capacity import Bounds
from scaler.controller import Controller, ControllerSettings
from scaler.metrics import ScalerMetrics
from scaler.model import Decision, Observation, Reason, ScalingDecision
from scaler.signals import LiveSignals
from scaler.signals.exposition import ExpositionScraper, ExpositionTraffic
from scaler.signals.procfs import ChildrenCpu
from scaler.signals.queue import ORDER_WORKERS_GROUP, ORDERS_STREAM, RedisStreamQueue
from tests.scaler import live_fixtures
from tests.scaler.live_fixtures import order_worker_command, wait_until

# The real servers these tests run against, as this module's fixtures.
gunicorn_server = live_fixtures.gunicorn_server
redis_stream_client = live_fixtures.redis_stream_client

pytestmark = pytest.mark.slow


class ProportionalPolicy:
    """One web worker per 8 requests/s, one order worker per 5 waiting orders, 1 to 4 each."""

    period_s = 1
    bounds = Bounds(1, 4)

    def initial_state(self, web_replicas: int, worker_replicas: int) -> None:
        return None

    def decide(self, observation: Observation, state: None) -> tuple[ScalingDecision, None]:
        rate = observation.request_rate or 0.0
        backlog = observation.queue_backlog or 0
        return ScalingDecision(
            web=Decision(self.bounds.clamp(math.ceil(rate / 8)), Reason.REQUEST_RATE),
            workers=Decision(self.bounds.clamp(math.ceil(backlog / 5)),
                             Reason.QUEUE_BACKLOG)), None


class Load:
    """Threads sending real requests to loopback, bounded in count and in time."""

    def __init__(self, url: str, threads: int = 6, max_seconds: float = 120,
                 max_requests_per_thread: int = 20_000) -> None:
        self.url = url
        self.stop = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.max_requests = max_requests_per_thread
        self.threads = [threading.Thread(target=self._send) for _ in range(threads)]

    def _send(self) -> None:
        with requests.Session() as session:
            for _ in range(self.max_requests):
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    return
                try:
                    session.get(self.url, timeout=10)
                except requests.RequestException:
                    time.sleep(0.05)  # a worker being replaced: try again

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


@pytest.fixture
def local_controller(gunicorn_server, redis_stream_client, tmp_path):
    metrics = ScalerMetrics()
    gunicorn = GunicornWorkers(gunicorn_server.pidfile)
    actuator = LocalActuator(gunicorn, WorkerPool(order_worker_command(tmp_path)))
    signals = LiveSignals(
        ExpositionTraffic(ExpositionScraper(f"{gunicorn_server.url}/metrics"), window_s=2),
        RedisStreamQueue(redis_stream_client), actuator.replicas,
        ChildrenCpu(gunicorn.master_pid), recorder=metrics)
    controller = Controller(signals, ProportionalPolicy(), actuator,
                            ControllerSettings(period_s=0.5),
                            metrics)
    stop = threading.Event()
    loop = threading.Thread(target=controller.run, args=(stop,))
    loop.start()
    yield controller
    stop.set()
    loop.join(30)
    actuator.close()


def test_load_adds_gunicorn_workers_and_idleness_removes_them(local_controller,
                                                              gunicorn_server):
    gunicorn = local_controller.actuator.gunicorn
    wait_until(lambda: len(local_controller.recent) >= 3, what="the loop running")
    assert gunicorn.ready() == 1

    with Load(f"{gunicorn_server.url}/work"):
        wait_until(lambda: gunicorn.ready() >= 3, timeout_s=90,
                   what="gunicorn growing under load")
        busy = local_controller.recent[-1]
        assert busy.request_rate > 8
        assert busy.latency_p95_s is not None

    # The loop records its decision after it has signalled gunicorn: wait for both.
    wait_until(lambda: gunicorn.ready() == 1
               and local_controller.last_decision.web == Decision(1, Reason.REQUEST_RATE),
               timeout_s=90, what="gunicorn shrinking back when idle")


def test_waiting_orders_start_workers_and_an_empty_queue_stops_them(local_controller,
                                                                    redis_stream_client):
    pool = local_controller.actuator.workers
    wait_until(lambda: pool.ready() == 1, what="the minimum of one order worker")
    client = redis_stream_client
    client.xgroup_create(ORDERS_STREAM, ORDER_WORKERS_GROUP, id="0", mkstream=True)
    ids = [client.xadd(ORDERS_STREAM, {"order_id": str(n)}) for n in range(14)]

    wait_until(lambda: pool.target == 3 and pool.ready() == 3, what="3 order workers")

    client.xreadgroup(ORDER_WORKERS_GROUP, "worker-1", {ORDERS_STREAM: ">"})
    client.xack(ORDERS_STREAM, ORDER_WORKERS_GROUP, *ids)
    wait_until(lambda: pool.target == 1 and pool.ready() == 1, what="back to 1 order worker")


def test_a_push_adds_a_gunicorn_worker_between_rounds_for_requests_queued_behind_a_busy_one(
        gunicorn_server, redis_stream_client, tmp_path):
    """The pushed signal live: the one worker is stopped (busy), requests queue in the listen
    socket, and the push (not a scrape: no round runs) asks gunicorn for a second worker by
    TTIN, which serves what queued while the first one is still stopped."""
    import os
    import signal
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlparse

    from scaler.capacity import Capacity
    from scaler.policy import PeakshopPolicy, PolicySettings
    from scaler.signals.procfs import ListenBacklog, children_of
    from scaler.signals.push import BacklogPush

    gunicorn = GunicornWorkers(gunicorn_server.pidfile)
    actuator = LocalActuator(gunicorn, WorkerPool(order_worker_command(tmp_path)))
    port = urlparse(gunicorn_server.url).port
    signals = LiveSignals(
        ExpositionTraffic(ExpositionScraper(f"{gunicorn_server.url}/metrics"), window_s=2),
        RedisStreamQueue(redis_stream_client), actuator.replicas)
    # The live policy's settings for this platform (no in-pod resize: a worker is the unit).
    settings = PolicySettings.for_capacity(Capacity(150.0, 200.0, 5.0), Bounds(1, 3),
                                           levers=False)
    metrics = ScalerMetrics()
    controller = Controller(signals, PeakshopPolicy(settings), actuator,
                            ControllerSettings(period_s=3600), metrics,
                            push=BacklogPush(ListenBacklog(port), actuator.replicas, 150.0))
    try:
        first = controller.reconcile_once()
        assert first.decision.web.replicas == 1          # no rate read yet: holds the one
        assert controller.push_once() is None            # an empty backlog: nothing heard
        (worker,) = children_of(gunicorn.master_pid())
        os.kill(worker, signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(4) as pool:
                answers = [pool.submit(requests.get, f"{gunicorn_server.url}/ping", timeout=60)
                           for _ in range(4)]
                wait_until(lambda: (ListenBacklog(port).waiting() or 0) >= 3,
                           what="requests queued behind the stopped worker")
                pushed = controller.push_once()
                assert pushed is not None and pushed.observation.pushed
                assert pushed.decision.web.replicas == 2
                assert pushed.decision.web.reason is Reason.PUSHED_BACKLOG
                assert pushed.acted == ("web",)
                # served by the worker the push added, the first one still stopped
                assert [answer.result().status_code for answer in answers] == [200] * 4
            assert gunicorn.ready() == 2
            assert metrics.registry.get_sample_value("peakshop_scaler_pushes_total") == 1
        finally:
            os.kill(worker, signal.SIGCONT)
    finally:
        actuator.close()
