"""Signals from a Prometheus server's HTTP API (`/api/v1/query`), for a cluster where
Prometheus already scrapes every storefront pod: one query sees all replicas at once.
"""

from __future__ import annotations

import math
from typing import Any

import requests

from scaler.signals.errors import SignalError
from scaler.signals.readings import TrafficReading

_OPERATIONAL = 'route!~"/metrics|/healthz|/readyz"'


def _selector(extra: str) -> str:
    return "{" + ",".join(part for part in (_OPERATIONAL, extra) if part) + "}"


def request_rate_query(window_s: int, extra_selector: str = "") -> str:
    """PromQL for storefront requests per second over the window, all pods together."""
    return f"sum(rate(peakshop_http_requests_total{_selector(extra_selector)}[{window_s}s]))"


def latency_p95_query(window_s: int, extra_selector: str = "") -> str:
    """PromQL for the p95 request latency over the window, all pods together."""
    return ("histogram_quantile(0.95, sum by (le) (rate("
            f"peakshop_http_request_duration_seconds_bucket{_selector(extra_selector)}"
            f"[{window_s}s])))")


def waiting_query(extra_selector: str = "") -> str:
    """PromQL for the requests queued for a free worker, all pods together: in the listen
    backlog, and at the edge gate where there is one (`or vector(0)`: where there is none)."""
    selector = _selector(extra_selector)
    return (f"sum(peakshop_http_listen_backlog{selector}) + "
            f"(sum(peakshop_gate_requests_waiting{selector}) or vector(0))")


def scalar_from_response(payload: dict[str, Any]) -> float | None:
    """The single value of an instant-vector or scalar answer; None for an empty vector/NaN."""
    if payload.get("status") != "success":
        raise SignalError(f"Prometheus query failed: {payload.get('error', payload)}")
    data = payload.get("data", {})
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        value = float(result[1])
    elif result_type == "vector":
        if not result:
            return None
        if len(result) > 1:
            raise SignalError(f"Prometheus query returned {len(result)} series, expected one: "
                              "aggregate it with sum()")
        value = float(result[0]["value"][1])
    else:
        raise SignalError(f"Prometheus answered a {result_type!r}, expected a vector")
    return None if math.isnan(value) else value


class PrometheusClient:
    """Instant queries against one Prometheus server."""

    def __init__(self, base_url: str, timeout_s: float = 5.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    def query(self, promql: str) -> float | None:
        """Evaluate `promql` now; its single value, None when it has no data."""
        try:
            response = self.session.get(f"{self.base_url}/api/v1/query",
                                        params={"query": promql}, timeout=self.timeout_s)
            payload = response.json()
        except (requests.RequestException, ValueError) as error:
            raise SignalError(f"cannot query Prometheus at {self.base_url}: {error}") from None
        return scalar_from_response(payload)


class PrometheusTraffic:
    """Request rate and p95 from Prometheus."""

    name = "traffic"

    def __init__(self, client: PrometheusClient, window_s: int = 30,
                 extra_selector: str = "") -> None:
        self.client = client
        self.window_s = window_s
        self.extra_selector = extra_selector

    def read(self) -> TrafficReading | None:
        """The last window's traffic; None while Prometheus has no samples of the counter."""
        rate = self.client.query(request_rate_query(self.window_s, self.extra_selector))
        if rate is None:
            return None
        p95 = self.client.query(latency_p95_query(self.window_s, self.extra_selector))
        waiting = self.client.query(waiting_query(self.extra_selector))
        return TrafficReading(request_rate=rate, latency_p95_s=p95, window_s=self.window_s,
                              waiting=None if waiting is None else int(waiting))


class PrometheusCpu:
    """CPU utilisation of the web pods relative to their CPU requests (what HPA targets)."""

    name = "cpu"

    def __init__(self, client: PrometheusClient, namespace: str, pod_prefix: str,
                 window_s: int = 60) -> None:
        self.client = client
        pods = f'namespace="{namespace}",pod=~"{pod_prefix}-.*"'
        self.promql = (
            f'sum(rate(container_cpu_usage_seconds_total{{{pods},container!=""}}[{window_s}s]))'
            f' / sum(kube_pod_container_resource_requests{{{pods},resource="cpu"}})')

    def utilization(self) -> float | None:
        """Used over requested CPU of the web pods; None without cAdvisor/kube-state-metrics."""
        return self.client.query(self.promql)
