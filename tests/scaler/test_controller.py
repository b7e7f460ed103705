"""The controller: read -> decide -> act -> record, dry run, standby; the policy's holds stand.

Signals come from a real prometheus_client exposition over HTTP; the actuator is the
Kubernetes one through the official client against kmock, which stands in for a real API
server (none can run here).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from scaler.actuators.kubernetes import KubernetesActuator
from scaler.actuators.lease import LeaseElector
from scaler.capacity import Bounds
from scaler.controller import Controller, ControllerSettings, missing_signals
from scaler.events import Event, EventSchedule
from scaler.metrics import ScalerMetrics
from scaler.model import Decision, Observation, Reason, ScalingDecision
from scaler.policy import PeakshopPolicy, PolicySettings
from scaler.run_command import run_until_stopped
from scaler.signals import LiveSignals
from scaler.signals.exposition import ExpositionQueue, ExpositionScraper, ExpositionTraffic
from tests.scaler import live_fixtures
from tests.scaler.live_fixtures import deployment, kubernetes_client, wait_until

# The real servers these tests run against, as this module's fixtures.
kubernetes_api = live_fixtures.kubernetes_api

NAMESPACE = "shop"
DEPLOYMENTS = "apps/v1/deployments"


class ProportionalPolicy:
    """A small real policy: one web replica per `rps_per_replica`, one worker per 5 orders.

    Like every policy it owns its holds (a missing signal keeps what is requested) and its
    bounds (1..20). Its state counts its decisions and remembers the sizes it started from,
    to show the controller carries state between rounds.
    """

    period_s = 15
    bounds = Bounds(1, 20)

    def __init__(self, rps_per_replica: float = 10.0, orders_per_worker: int = 5) -> None:
        self.rps_per_replica = rps_per_replica
        self.orders_per_worker = orders_per_worker

    def initial_state(self, web_replicas: int, worker_replicas: int):
        return {"decisions": 0, "started_with": (web_replicas, worker_replicas)}

    def decide(self, observation: Observation, state) -> tuple[ScalingDecision, dict]:
        rate, backlog = observation.request_rate, observation.queue_backlog
        web = (Decision(observation.web_requested, Reason.STALE_SIGNALS) if rate is None else
               Decision(self.bounds.clamp(math.ceil(rate / self.rps_per_replica)),
                        Reason.REQUEST_RATE))
        workers = (Decision(observation.workers_requested, Reason.STALE_SIGNALS)
                   if backlog is None else
                   Decision(self.bounds.clamp(math.ceil(backlog / self.orders_per_worker)),
                            Reason.QUEUE_BACKLOG))
        decision = ScalingDecision(web=web, workers=workers)
        return decision, {**state, "decisions": state["decisions"] + 1}


def observation(rate: float | None = 10.0, backlog: int | None = 0, web_requested: int = 3,
                workers_requested: int = 2) -> Observation:
    return Observation(at_s=0, request_rate=rate, latency_p95_s=None, latency_within_slo=None,
                       cpu_utilization=None, queue_backlog=backlog, queue_oldest_age_s=None,
                       orders_rate=None, web_ready=web_requested, web_requested=web_requested,
                       workers_ready=workers_requested, workers_requested=workers_requested)


@pytest.mark.parametrize("seen, expected", [
    (observation(), set()),
    (observation(rate=None), {"web"}),
    (observation(backlog=None), {"workers"}),
    (observation(rate=None, backlog=None), {"web", "workers"}),
])
def test_missing_signals_per_deployment(seen, expected):
    assert missing_signals(seen) == expected


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storefront():
    """The storefront's request counter and queue gauges, served over real HTTP."""
    registry = CollectorRegistry()
    requests_total = Counter("peakshop_http_requests_total", "Requests",
                             ["method", "route", "status"], registry=registry)
    queue_length = Gauge("peakshop_queue_length", "Waiting orders", registry=registry)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield {"requests": requests_total.labels("GET", "/", "200"), "queue": queue_length,
           "server": server, "url": f"http://127.0.0.1:{server.server_port}/metrics"}
    server.shutdown()
    server.server_close()


@pytest.fixture
def cluster(kubernetes_api):
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-web",
                              deployment("peakshop-web", NAMESPACE, replicas=3, ready=3))
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-worker",
                              deployment("peakshop-worker", NAMESPACE, replicas=2, ready=2))
    return kubernetes_api


def build_controller(storefront, cluster, clock, *, dry_run=False, elector=None, policy=None):
    metrics = ScalerMetrics()
    scraper = ExpositionScraper(storefront["url"], timeout_s=2, clock=clock)
    actuator = KubernetesActuator(kubernetes_client(cluster.url), NAMESPACE, "peakshop-web",
                                  "peakshop-worker", elector, identity="scaler-test")
    signals = LiveSignals(ExpositionTraffic(scraper, window_s=30), ExpositionQueue(scraper),
                          actuator.replicas, recorder=metrics, clock=clock, wall_clock=clock)
    settings = ControllerSettings(period_s=15, dry_run=dry_run)
    return Controller(signals, policy or ProportionalPolicy(), actuator, settings, metrics,
                      clock=clock)


def sample(metrics: ScalerMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def web_replicas(cluster) -> int:
    return cluster.get_object(DEPLOYMENTS, NAMESPACE, "peakshop-web")["spec"]["replicas"]


def test_reconcile_reads_decides_acts_and_records(storefront, cluster):
    clock = ManualClock()
    controller = build_controller(storefront, cluster, clock)
    storefront["queue"].set(10)

    first = controller.reconcile_once()  # one scrape: no rate yet, so web holds at 3
    assert first.held == ("web",)
    assert first.decision.web == Decision(3, Reason.STALE_SIGNALS)
    assert first.decision.workers == Decision(2, Reason.QUEUE_BACKLOG)
    assert first.acted == ()
    assert web_replicas(cluster) == 3

    storefront["requests"].inc(600)
    storefront["queue"].set(12)
    clock.now += 10
    second = controller.reconcile_once()
    assert second.observation.request_rate == pytest.approx(60)
    assert second.decision.web == Decision(6, Reason.REQUEST_RATE)
    assert second.decision.workers == Decision(3, Reason.QUEUE_BACKLOG)
    assert second.acted == ("web", "workers")
    assert web_replicas(cluster) == 6
    assert cluster.get_object(DEPLOYMENTS, NAMESPACE, "peakshop-worker")["spec"]["replicas"] == 3
    assert sorted(event["message"] for event in cluster.objects_of("v1/events")) == [
        "New size: 3; reason: queue_backlog (was 2, Deployment peakshop-worker)",
        "New size: 6; reason: request_rate (was 3, Deployment peakshop-web)",
    ]
    metrics = controller.metrics
    assert sample(metrics, "peakshop_scaler_desired_replicas", deployment="web") == 6
    assert sample(metrics, "peakshop_scaler_scaling_actions_total", deployment="web",
                  direction="up", dry_run="false") == 1
    assert sample(metrics, "peakshop_scaler_decisions_total", deployment="web",
                  reason="request_rate") == 1
    assert sample(metrics, "peakshop_scaler_observed_request_rate") == pytest.approx(60)
    # The policy's state went from one round to the next, starting from the sizes seen first.
    assert controller.policy_state == {"decisions": 2, "started_with": (3, 2)}


def test_metrics_endpoint_gone_holds_the_last_decision(storefront, cluster):
    clock = ManualClock()
    controller = build_controller(storefront, cluster, clock)
    controller.reconcile_once()
    storefront["requests"].inc(800)
    clock.now += 10
    assert controller.reconcile_once().decision.web.replicas == 8
    assert web_replicas(cluster) == 8
    events_before = len(cluster.objects_of("v1/events"))

    storefront["server"].shutdown()
    storefront["server"].server_close()
    for _ in range(3):  # the storefront's metrics stay away for several rounds
        clock.now += 15
        result = controller.reconcile_once()
        assert result.observation.request_rate is None
        assert result.held == ("web", "workers")
        assert result.decision.web == Decision(8, Reason.STALE_SIGNALS)
        assert result.acted == ()

    assert web_replicas(cluster) == 8  # the policy's hold stands: the controller only acts
    assert len(cluster.objects_of("v1/events")) == events_before
    metrics = controller.metrics
    assert sample(metrics, "peakshop_scaler_signal_up", signal="traffic") == 0
    assert sample(metrics, "peakshop_scaler_signal_failures_total", signal="traffic") == 3
    assert sample(metrics, "peakshop_scaler_signal_age_seconds", signal="traffic") == 45
    # three rounds without metrics, plus the first round that had only one scrape
    assert sample(metrics, "peakshop_scaler_held_decisions_total", deployment="web") == 4
    assert result.observation.age_s == 45


def test_no_missing_signal_warning_before_the_first_reading_is_due(storefront, cluster,
                                                                   caplog):
    """A rate takes two scrapes a period apart: the first round has none, which is expected,
    not a missing signal. Once the second scrape is due, a signal still without a reading
    is missing and says so."""
    clock = ManualClock()
    controller = build_controller(storefront, cluster, clock)
    caplog.set_level("INFO", logger="peakshop.scaler")

    def warnings() -> list[str]:
        return [record.getMessage() for record in caplog.records
                if record.levelname == "WARNING" and "missing" in record.getMessage()]

    first = controller.reconcile_once()           # one scrape: no rate yet
    assert first.held == ("web",)
    assert warnings() == []
    assert any("web signal not read yet" in record.getMessage() for record in caplog.records)

    storefront["requests"].inc(300)
    clock.now += 15                               # the second scrape: the first rate
    assert controller.reconcile_once().held == ()
    assert warnings() == []

    storefront["server"].shutdown()               # now a missing signal is a fault: warn
    storefront["server"].server_close()
    clock.now += 15
    assert controller.reconcile_once().held == ("web", "workers")
    assert any(message.startswith("web signal missing") for message in warnings())


def test_announced_event_plan_survives_the_metrics_endpoint_going_away(storefront, cluster):
    """Regression: with the traffic signal gone, the policy plans 16 web pods for an announced
    event, and 16 is what the Deployment gets (the controller once replaced it with its own
    hold of 4). The storefront's /metrics disappears mid-run, over real HTTP."""
    kubernetes_api = cluster
    kubernetes_api.put_object(DEPLOYMENTS, NAMESPACE, "peakshop-web",
                              deployment("peakshop-web", NAMESPACE, replicas=4, ready=4))
    clock = ManualClock()  # 1000 s on the season's clock (season_origin_s = 0)
    # Crowds gather event_lead_s + startup_s = 225 s ahead: from 1020 s for a start at 1245 s.
    launch = EventSchedule([Event(start_s=1245.0, name="launch", extra_peaks=10.0,
                                  duration_s=1800.0)])
    policy = PeakshopPolicy(PolicySettings(), events=launch)
    controller = build_controller(storefront, cluster, clock, policy=policy)

    assert controller.reconcile_once().decision.web == Decision(4, Reason.STALE_SIGNALS)
    storefront["requests"].inc(400)   # 40 requests/s: 2 pods would do, the window keeps 4
    clock.now += 10
    calm = controller.reconcile_once()
    assert calm.observation.request_rate == pytest.approx(40)
    assert calm.decision.web.replicas == 4

    storefront["server"].shutdown()
    storefront["server"].server_close()
    for _ in range(6):  # 90 s without metrics: missing, then stale
        clock.now += 15
        result = controller.reconcile_once()
        assert result.observation.request_rate is None
        assert result.held == ("web", "workers")
        # 40 rps calm + 10 evening peaks (40 rps, no forecast yet) = 440 rps at 28.8 a pod
        assert result.decision.web == Decision(16, Reason.SCHEDULED_EVENT)
        assert web_replicas(cluster) == 16
    assert result.observation.age_s > policy.settings.stale_after_s


def test_dry_run_decides_and_records_without_acting(storefront, cluster):
    clock = ManualClock()
    controller = build_controller(storefront, cluster, clock, dry_run=True)
    controller.reconcile_once()
    storefront["requests"].inc(1500)
    clock.now += 10
    result = controller.reconcile_once()
    assert result.decision.web == Decision(15, Reason.REQUEST_RATE)
    assert result.acted == ()
    assert web_replicas(cluster) == 3
    assert cluster.objects_of("v1/events") == []
    assert sample(controller.metrics, "peakshop_scaler_scaling_actions_total", deployment="web",
                  direction="up", dry_run="true") == 1
    assert sample(controller.metrics, "peakshop_scaler_desired_replicas", deployment="web") == 15


def test_standby_scaler_neither_reads_nor_acts(storefront, cluster):
    clock = ManualClock()
    coordination = client.CoordinationV1Api(kubernetes_client(cluster.url))
    holder = LeaseElector(coordination, NAMESPACE, "peakshop-scaler", "scaler-a", 15,
                          clock=clock)
    assert holder.try_acquire_or_renew()
    standby = build_controller(
        storefront, cluster, clock,
        elector=LeaseElector(coordination, NAMESPACE, "peakshop-scaler", "scaler-b", 15,
                             clock=clock))
    storefront["requests"].inc(5000)
    result = standby.reconcile_once()
    assert (result.leader, result.decision) == (False, None)
    assert sample(standby.metrics, "peakshop_scaler_leader") == 0
    assert web_replicas(cluster) == 3

    holder.release()
    assert standby.reconcile_once().leader
    assert sample(standby.metrics, "peakshop_scaler_leader") == 1


def test_loop_stops_cleanly_on_sigterm(storefront, cluster):
    controller = build_controller(storefront, cluster, time.monotonic)
    controller.settings = ControllerSettings(period_s=0.05)
    previous_handler = signal.getsignal(signal.SIGTERM)

    def terminate_after_rounds() -> None:
        wait_until(lambda: len(controller.recent) >= 3, what="three reconcile rounds")
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_after_rounds)
    sender.start()
    run_until_stopped(controller)  # returns only once the SIGTERM was handled
    sender.join(30)
    assert len(controller.recent) >= 3
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_scaler_health_endpoint_reports_a_stalled_loop():
    """/healthz on the scaler's metrics port turns 503 once no round has finished lately."""
    import requests

    from scaler.metrics import ScalerMetrics

    metrics = ScalerMetrics()
    port = metrics.serve(0, addr="127.0.0.1", stale_after_s=60)
    try:
        base = f"http://127.0.0.1:{port}"
        metrics.round_finished()
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        assert "peakshop_scaler_last_round_timestamp_seconds" in requests.get(
            base + "/metrics", timeout=5).text
        metrics.round_finished(now=0.0)  # the last round finished long ago
        stalled = requests.get(base + "/healthz", timeout=5)
        assert stalled.status_code == 503 and b"stalled" in stalled.content
    finally:
        metrics.close()


class InPodPolicy(ProportionalPolicy):
    """Keeps the replicas and asks the running web pods for `size` times their template."""

    def __init__(self, size: float) -> None:
        super().__init__()
        self.size = size

    def decide(self, observation: Observation, state):
        decision, state = super().decide(observation, state)
        return ScalingDecision(Decision(observation.web_requested, Reason.PUSHED_BACKLOG,
                                        self.size), decision.workers), state


def test_a_decided_pod_size_resizes_the_running_web_pods_in_place(storefront, cluster):
    from tests.scaler.test_actuator_kubernetes import PODS, web_pod

    cluster.patch_object(DEPLOYMENTS, NAMESPACE, "peakshop-web", {"spec": {"template": {"spec": {
        "containers": [{"name": "peakshop-web", "image": "peakshop:1",
                        "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}}]}}}})
    cluster.put_object(PODS, NAMESPACE, "peakshop-web-a", web_pod("peakshop-web-a"))
    policy = InPodPolicy(1.5)
    controller = build_controller(storefront, cluster, ManualClock(), policy=policy)
    controller.actuator.max_pod_size = 2.0

    def limit(name):
        return cluster.get_object(PODS, NAMESPACE, name)["spec"]["containers"][0][
            "resources"]["limits"]["cpu"]

    controller.reconcile_once()
    assert limit("peakshop-web-a") == "1500m"
    # A pod started since (at the template's size) gets the size on the next round.
    cluster.put_object(PODS, NAMESPACE, "peakshop-web-b", web_pod("peakshop-web-b"))
    controller.reconcile_once()
    assert limit("peakshop-web-b") == "1500m"
    # Back to the template once the policy no longer asks for more.
    policy.size = 1.0
    controller.reconcile_once()
    assert (limit("peakshop-web-a"), limit("peakshop-web-b")) == ("1000m", "1000m")
    assert web_replicas(cluster) == 3


def test_dry_run_never_resizes(storefront, cluster):
    from tests.scaler.test_actuator_kubernetes import PODS, web_pod

    cluster.patch_object(DEPLOYMENTS, NAMESPACE, "peakshop-web", {"spec": {"template": {"spec": {
        "containers": [{"name": "peakshop-web", "image": "peakshop:1",
                        "resources": {"limits": {"cpu": "1"}}}]}}}})
    cluster.put_object(PODS, NAMESPACE, "peakshop-web-a", web_pod("peakshop-web-a"))
    controller = build_controller(storefront, cluster, ManualClock(), dry_run=True,
                                  policy=InPodPolicy(2.0))
    controller.actuator.max_pod_size = 2.0
    controller.reconcile_once()
    assert cluster.get_object(PODS, NAMESPACE, "peakshop-web-a")["spec"]["containers"][0][
        "resources"]["limits"]["cpu"] == "1"
