"""The request metrics every process that answers HTTP shares: Flask's hooks, FastLine and
the edge gate (`shop.edge`) count into the same series. No Flask here, so that the gate can
count without importing it.

Under gunicorn (and beside it, the gate) every process writes its samples to
PROMETHEUS_MULTIPROC_DIR and `/metrics` merges them.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, values

# Anything else a client sends is counted as "other": a label per invented method would let
# any caller grow the metric without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    latency: Histogram
    in_flight: Gauge
    # The labelled series by their labels: prometheus_client's `labels()` checks, converts
    # and locks on every call, a tenth of a cached read's CPU for two series. The labels are
    # bounded (known methods, the app's URL rules, status codes), and so is this.
    _series: dict = field(default_factory=dict, repr=False, compare=False)

    def answered(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one answer of `route` (a URL rule) and its latency; `method` is one of
        KNOWN_METHODS or "other"."""
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[(method, route, status)] = (
                self.latency.labels(method, route), self.requests.labels(method, route, status))
        latency, requests = series
        latency.observe(seconds)
        requests.inc()


def _registry() -> CollectorRegistry | None:
    """Where this process's metrics go: the default registry, or none under gunicorn, whose
    processes keep their samples in files that `/metrics` reads through
    MultiProcessCollector (the value class is chosen again: it is fixed at import)."""
    if not multiprocess_dir():
        return REGISTRY
    if values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()
    return None


@functools.cache
def http_metrics() -> HttpMetrics:
    """The request metrics of this process, created once, file-backed under gunicorn."""
    registry = _registry()
    return HttpMetrics(
        requests=Counter("peakshop_http_requests_total", "HTTP requests answered",
                         ["method", "route", "status"], registry=registry),
        latency=Histogram("peakshop_http_request_duration_seconds", "HTTP request latency",
                          ["method", "route"], registry=registry,
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5,
                                   10)),
        in_flight=Gauge("peakshop_http_requests_in_flight", "HTTP requests being served",
                        multiprocess_mode="livesum", registry=registry),
    )


@dataclass(frozen=True)
class GateMetrics:
    waiting: Gauge
    in_flight: Gauge


@functools.cache
def gate_metrics() -> GateMetrics:
    """The edge gate's queue (`shop.edge`): the requests a worker's listen backlog would hold
    without it, so the scaler reads them beside that backlog."""
    registry = _registry()
    return GateMetrics(
        waiting=Gauge("peakshop_gate_requests_waiting",
                      "Requests waiting at the edge gate for a slot in gunicorn",
                      multiprocess_mode="livesum", registry=registry),
        in_flight=Gauge("peakshop_gate_upstream_in_flight",
                        "Requests the edge gate has in gunicorn", multiprocess_mode="livesum",
                        registry=registry),
    )
