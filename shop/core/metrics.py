"""Prometheus metrics of the storefront, safe under gunicorn's many processes.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR and `/metrics`
merges them, so the scaler sees the whole server, not whichever worker answered the scrape.
The directory must be set before prometheus_client is imported (see `shop.serve`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("peakshop_http_requests_total", "HTTP requests answered",
                   ["method", "route", "status"])
LATENCY = Histogram("peakshop_http_request_duration_seconds", "HTTP request latency",
                    ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10))
IN_FLIGHT = Gauge("peakshop_http_requests_in_flight", "HTTP requests being served",
                  multiprocess_mode="livesum")

# Collectors that read live state at scrape time (queue depth, orders by status) register
# here; they run once per scrape in the process that answers it.
scrape_time_collectors: list[Callable[[Flask], object]] = []


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def init_app(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()
        IN_FLIGHT.inc()

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
            REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            IN_FLIGHT.dec()
        return response

    @app.teardown_request
    def settle_in_flight(error: BaseException | None) -> None:
        # after_request does not run when a view raised past every error handler.
        if g.pop("request_started", None) is not None:
            IN_FLIGHT.dec()

    app.add_url_rule("/metrics", "metrics", _expose_metrics(app))


def _expose_metrics(app: Flask):
    def metrics() -> Response:
        """Serve every metric in the Prometheus text format."""
        registry = CollectorRegistry()
        if multiprocess_dir():
            multiprocess.MultiProcessCollector(registry)
        else:
            from prometheus_client import REGISTRY
            registry = REGISTRY
        extra = CollectorRegistry()
        for make_collector in scrape_time_collectors:
            extra.register(make_collector(app))
        body = generate_latest(registry) + generate_latest(extra)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)
    return metrics
