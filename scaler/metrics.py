"""The scaler's own Prometheus metrics, on its own registry and its own /metrics port.

A separate registry keeps the scaler's series out of the storefront's exposition when both
run in one process (`peakshop up`), and lets tests read exactly what one controller recorded.
"""

from __future__ import annotations

import threading
import time
from wsgiref.simple_server import WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from scaler.model import Decision, Observation


class ScalerMetrics:
    """Every series the scaler exports, plus the HTTP endpoint that serves them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.desired_replicas = Gauge(
            "peakshop_scaler_desired_replicas", "Replicas the last decision asked for",
            ["deployment"], registry=r)
        self.requested_replicas = Gauge(
            "peakshop_scaler_requested_replicas", "Replicas requested when last observed",
            ["deployment"], registry=r)
        self.ready_replicas = Gauge(
            "peakshop_scaler_ready_replicas", "Ready replicas when last observed",
            ["deployment"], registry=r)
        self.decisions = Counter(
            "peakshop_scaler_decisions", "Decisions taken, by the reason that set the count",
            ["deployment", "reason"], registry=r)
        self.scaling_actions = Counter(
            "peakshop_scaler_scaling_actions", "Replica changes applied (or, in dry-run, due)",
            ["deployment", "direction", "dry_run"], registry=r)
        self.signal_up = Gauge(
            "peakshop_scaler_signal_up", "1 when the signal was read on the last try, else 0",
            ["signal"], registry=r)
        self.signal_age = Gauge(
            "peakshop_scaler_signal_age_seconds", "Seconds since the signal was last read",
            ["signal"], registry=r)
        self.signal_failures = Counter(
            "peakshop_scaler_signal_failures", "Failed reads of a signal", ["signal"], registry=r)
        self.held = Counter(
            "peakshop_scaler_held_decisions",
            "Decisions taken while a Deployment's deciding signal was missing",
            ["deployment"], registry=r)
        self.pushes = Counter(
            "peakshop_scaler_pushes",
            "Decisions taken between rounds on a listen backlog that grew", registry=r)
        self.reconcile_errors = Counter(
            "peakshop_scaler_reconcile_errors", "Reconcile rounds that could not finish",
            ["stage"], registry=r)
        self.leader = Gauge(
            "peakshop_scaler_leader", "1 while this scaler holds the leader Lease", registry=r)
        self.reconcile_seconds = Histogram(
            "peakshop_scaler_reconcile_duration_seconds", "Time one reconcile round took",
            registry=r)
        self.request_rate = Gauge(
            "peakshop_scaler_observed_request_rate", "Storefront requests/s as observed",
            registry=r)
        self.latency_p95 = Gauge(
            "peakshop_scaler_observed_latency_p95_seconds", "p95 latency as observed",
            registry=r)
        self.queue_backlog = Gauge(
            "peakshop_scaler_observed_queue_backlog", "Unacknowledged orders as observed",
            registry=r)
        self.queue_age = Gauge(
            "peakshop_scaler_observed_queue_oldest_age_seconds",
            "Age of the oldest unacknowledged order as observed", registry=r)
        self.last_round = Gauge(
            "peakshop_scaler_last_round_timestamp_seconds",
            "When the last reconcile round finished (Unix time)", registry=r)
        self._started_at = time.time()
        self._last_round_at: float | None = None
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def round_finished(self, now: float | None = None) -> None:
        """A reconcile round ended (successfully or not): the loop is alive."""
        self._last_round_at = time.time() if now is None else now
        self.last_round.set(self._last_round_at)

    def alive(self, stale_after_s: float, now: float | None = None) -> bool:
        """True while the loop has finished a round within `stale_after_s` (or is starting)."""
        now = time.time() if now is None else now
        last = self._last_round_at if self._last_round_at is not None else self._started_at
        return now - last <= stale_after_s

    def signal_read(self, signal: str, age_s: float) -> None:
        """A signal was read."""
        self.signal_up.labels(signal).set(1)
        self.signal_age.labels(signal).set(age_s)

    def signal_failed(self, signal: str, age_s: float) -> None:
        """A signal could not be read; it has been missing for `age_s`."""
        self.signal_up.labels(signal).set(0)
        self.signal_age.labels(signal).set(age_s)
        self.signal_failures.labels(signal).inc()

    def observed(self, observation: Observation) -> None:
        """Mirror what the scaler saw, so a dashboard shows the inputs next to the outputs."""
        for gauge, value in ((self.request_rate, observation.request_rate),
                             (self.latency_p95, observation.latency_p95_s),
                             (self.queue_backlog, observation.queue_backlog),
                             (self.queue_age, observation.queue_oldest_age_s)):
            gauge.set(float("nan") if value is None else value)
        for deployment, ready, requested in (
                ("web", observation.web_ready, observation.web_requested),
                ("workers", observation.workers_ready, observation.workers_requested)):
            self.ready_replicas.labels(deployment).set(ready)
            self.requested_replicas.labels(deployment).set(requested)

    def decided(self, deployment: str, decision: Decision, current: int, dry_run: bool) -> None:
        """Record one Deployment's decision and, if it changes the count, the action."""
        self.desired_replicas.labels(deployment).set(decision.replicas)
        self.decisions.labels(deployment, decision.reason.value).inc()
        if decision.replicas != current:
            direction = "up" if decision.replicas > current else "down"
            self.scaling_actions.labels(deployment, direction, str(dry_run).lower()).inc()

    def serve(self, port: int, addr: str = "0.0.0.0", stale_after_s: float = 60.0) -> int:
        """Serve /metrics, and /healthz answering 503 once the loop has stalled for
        `stale_after_s`, on `port` (0 picks a free one) in a daemon thread; the bound port."""
        metrics_app = make_wsgi_app(self.registry)

        def app(environ, start_response):
            if environ.get("PATH_INFO") in ("/healthz", "/readyz"):
                healthy = self.alive(stale_after_s)
                start_response("200 OK" if healthy else "503 Service Unavailable",
                               [("Content-Type", "text/plain")])
                return [b"ok\n" if healthy else b"reconcile loop stalled\n"]
            return metrics_app(environ, start_response)

        self._server = make_server(addr, port, app, ThreadingWSGIServer,
                                   handler_class=_SilentHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self._server.server_port

    def close(self) -> None:
        """Stop the HTTP endpoint if it was started."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
