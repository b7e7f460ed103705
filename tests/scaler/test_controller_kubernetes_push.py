"""The push on Kubernetes, end to end: a storefront pod publishes its listen backlog to Redis,
the Kubernetes-target scaler hears it between rounds and scales the web Deployment at once.

Real parts: `peakshop serve` (gunicorn, the app, SQLite) with PEAKSHOP_PUBLISH_BACKLOG=true,
a real redis-server, the scaler's own wiring (`build_push` from the Kubernetes settings) and
its Kubernetes actuator through the official client over HTTP. The API server is kmock's
emulator (no real cluster can run here), as in the other Kubernetes tests. The round period
is an hour, so only the push can have scaled the Deployment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from common import pushed_backlog
from scaler.actuators.kubernetes import KubernetesActuator
from scaler.capacity import Bounds
from scaler.controller import Controller, ControllerSettings
from scaler.metrics import ScalerMetrics
from scaler.model import Reason
from scaler.policy import PeakshopPolicy, PolicySettings
from scaler.run_command import build_push
from scaler.settings import build_settings
from scaler.signals import LiveSignals
from scaler.signals.exposition import ExpositionScraper, ExpositionTraffic
from scaler.signals.procfs import children_of
from scaler.signals.queue import RedisStreamQueue
from tests.scaler import live_fixtures
from tests.scaler.live_fixtures import deployment, kubernetes_client, wait_until
from tests.scaler.test_signals_push import SCRAPED
from tests.support import published_backlog

kubernetes_api = live_fixtures.kubernetes_api

pytestmark = pytest.mark.slow

NAMESPACE = "shop"
DEPLOYMENTS = "apps/v1/deployments"
POD = "peakshop-web-5c7b9-x2x4k"
# Bounds the test: gunicorn kills a worker stopped for its 30 s timeout.
MAX_REQUESTS = 60


board_client = published_backlog.board_client


@pytest.fixture
def redis_client(board_client):
    return board_client


@pytest.fixture
def web_pod(sqlite_template, redis_server, redis_client, tmp_path):
    """One storefront pod with one gunicorn worker, publishing as Kubernetes would run it."""
    server = published_backlog.start_publishing_pod(sqlite_template, redis_server.url,
                                                    tmp_path, POD)
    yield server
    server.stop()


@pytest.fixture
def cluster(kubernetes_api):
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-web",
                              deployment("peakshop-web", NAMESPACE, replicas=1, ready=1))
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-worker",
                              deployment("peakshop-worker", NAMESPACE, replicas=1, ready=1))
    return kubernetes_api


def web_replicas(cluster) -> int:
    return cluster.get_object(DEPLOYMENTS, NAMESPACE, "peakshop-web")["spec"]["replicas"]


def pushing_controller(cluster, redis_server, redis_client, metrics_url: str):
    """The scaler's real Kubernetes wiring with its push, against kmock: the live policy's
    settings for a platform that pushes but does not resize pods, rounds an hour apart (so
    only a push can act within the test)."""
    settings = build_settings({"target": "kubernetes", "namespace": NAMESPACE,
                               "redis_url": redis_server.url, "min_replicas": 1,
                               "max_replicas": 10}, {})
    api = kubernetes_client(cluster.url)
    actuator = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker",
                                  identity="scaler-test")
    metrics = ScalerMetrics()
    signals = LiveSignals(ExpositionTraffic(ExpositionScraper(metrics_url), window_s=30),
                          RedisStreamQueue(redis_client), actuator.replicas, recorder=metrics)
    policy = PeakshopPolicy(PolicySettings.for_capacity(settings.capacity, Bounds(1, 10),
                                                        levers=False))
    controller = Controller(signals, policy, actuator, ControllerSettings(period_s=3600),
                            metrics, push=build_push(settings, actuator))
    return settings, actuator, metrics, controller


def test_a_busy_pod_is_heard_and_the_web_deployment_scaled_within_the_round(
        web_pod, cluster, redis_server, redis_client):
    settings, actuator, metrics, controller = pushing_controller(
        cluster, redis_server, redis_client, f"{web_pod.url}/metrics")
    stop = threading.Event()
    loop = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    wait_until(lambda: pushed_backlog.read(redis_client).waiting == 0, 30,
               what="the pod publishing an empty backlog")
    loop.start()
    worker = None
    try:
        wait_until(lambda: len(controller.recent) >= 1, 30, what="the first round")
        assert web_replicas(cluster) == 1           # one scrape, no rate yet: holds
        (worker,) = children_of(int(Path(web_pod.pidfile).read_text()))
        os.kill(worker, signal.SIGSTOP)             # the pod's only worker is busy
        with ThreadPoolExecutor(MAX_REQUESTS) as pool:
            # Shoppers keep arriving (a few a second) until the push is heard.
            answers = []
            while web_replicas(cluster) == 1 and len(answers) < MAX_REQUESTS:
                answers.append(pool.submit(requests.get, f"{web_pod.url}/healthz",
                                           timeout=120))
                time.sleep(0.25)
            assert web_replicas(cluster) > 1, "the push did not scale the web Deployment"
            os.kill(worker, signal.SIGCONT)
            assert {answer.result().status_code for answer in answers} == {200}
    finally:
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGCONT)
        stop.set()
        loop.join(30)
        actuator.close()
    assert metrics.registry.get_sample_value("peakshop_scaler_pushes_total") >= 1
    pushed = [seen for seen in controller.recent if seen.pushed]
    assert pushed and pushed[0].request_rate > settings.capacity.pod_max_rps
    assert controller.last_decision.web.reason is Reason.PUSHED_BACKLOG
    (event,) = [event for event in cluster.objects_of("v1/events")
                if event["involvedObject"]["name"] == "peakshop-web"]
    assert "reason: pushed_backlog (was 1" in event["message"]


def test_no_pod_publishing_is_no_push(cluster, redis_server, redis_client):
    """Nothing in Redis (no pod publishes, or every reading went stale) is heard as nothing,
    never as a backlog of 0 that a later reading could seem to grow from."""
    settings = build_settings({"target": "kubernetes", "namespace": NAMESPACE,
                               "redis_url": redis_server.url}, {})
    api = kubernetes_client(cluster.url)
    actuator = KubernetesActuator(api, NAMESPACE, "peakshop-web", "peakshop-worker")
    push = build_push(settings, actuator)
    try:
        seconds, _ = redis_client.time()
        redis_client.hset(pushed_backlog.KEY, "gone", f"0 {(seconds - 30) * 1000}")
        assert push.backlog.waiting() is None
        assert push.heard(SCRAPED) is None
        pushed_backlog.publish(redis_client, "web-a", 12)   # first fresh reading: a baseline
        assert push.heard(SCRAPED) is None
        pushed_backlog.publish(redis_client, "web-a", 20)   # grown since: heard
        heard = push.heard(SCRAPED)
        assert heard is not None and heard.pushed
    finally:
        actuator.close()


@pytest.fixture
def two_pods(sqlite_template, redis_server, redis_client, tmp_path):
    """Two storefront pods with two gunicorn workers each, publishing their backlogs and
    busy workers as Kubernetes would run them."""
    pods = [published_backlog.start_two_worker_pod(sqlite_template, redis_server.url,
                                                   tmp_path / name, name)
            for name in (POD, "peakshop-web-5c7b9-q8w2z")]
    yield pods
    for pod in pods:
        pod.stop()


def test_busy_workers_are_heard_and_the_web_deployment_scaled_before_anything_queues(
        two_pods, cluster, redis_server, redis_client):
    """Every worker of both pods serves a slow request: nothing queues in the accept queues
    yet, but the pods' busy workers (all of them: 80/s implied, past 0.92 x 0.8 of the SLO
    capacity by more than a second's noise) are a push, and the Deployment is scaled within
    the round (an hour long)."""
    cluster.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-web",
                       deployment("peakshop-web", NAMESPACE, replicas=2, ready=2))
    settings, actuator, metrics, controller = pushing_controller(
        cluster, redis_server, redis_client, f"{two_pods[0].url}/metrics")
    stop = threading.Event()
    loop = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    wait_until(lambda: pushed_backlog.read(redis_client).workers == 4, 30,
               what="both idle pods publishing their busy workers")
    loop.start()
    try:
        wait_until(lambda: len(controller.recent) >= 1, 30, what="the first round")
        assert web_replicas(cluster) == 2
        with contextlib.ExitStack() as slow:
            for pod in two_pods * 2:              # two slow requests per pod: every worker
                slow.enter_context(published_backlog.slow_request(pod.url))
            wait_until(lambda: web_replicas(cluster) > 2, 30,
                       what="the push scaling the web Deployment")
            assert pushed_backlog.read(redis_client).waiting == 0     # nothing queued
    finally:
        stop.set()
        loop.join(30)
        actuator.close()
    assert metrics.registry.get_sample_value("peakshop_scaler_pushes_total") >= 1
    pushed = [seen for seen in controller.recent if seen.pushed]
    # the arrivals the busy workers of two ready pods imply, at their lower bound: past the
    # mark, 0.736 of their 2 x 40/s, at most all of it (a queue that grew would say more)
    assert any(0.736 * 2 * settings.capacity.pod_max_rps < seen.request_rate
               <= 2 * settings.capacity.pod_max_rps for seen in pushed)
    assert controller.last_decision.web.reason is Reason.PUSHED_BACKLOG
    (event,) = [event for event in cluster.objects_of("v1/events")
                if event["involvedObject"]["name"] == "peakshop-web"]
    assert "reason: pushed_backlog (was 2" in event["message"]
