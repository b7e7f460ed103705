"""Prometheus metrics of the storefront, safe under gunicorn's many processes.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR and `/metrics`
merges them, so the scaler sees the whole server, not whichever worker answered the scrape.

prometheus_client decides between in-memory and file-backed values when it is first
imported, which may well be before `peakshop serve` sets the directory. So the metrics are
built on first use in each process, after making sure the file-backed values are in force
whenever the directory is set; no import order can then silently turn them per-process.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Iterable, Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from common.listen_queue import bind_port, listen_backlog
from shop.core.fork_guard import fork_guard
from shop.core.http_metrics import KNOWN_METHODS, http_metrics, multiprocess_dir

# Collectors that read live state at scrape time (queue depth, orders by status) register
# here; they run once per scrape in the process that answers it.
scrape_time_collectors: list[Callable[[Flask], object]] = []

def init_app(app: Flask) -> None:
    metrics = http_metrics()

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()
        metrics.in_flight.inc()

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            method = request.method if request.method in KNOWN_METHODS else "other"
            metrics.answered(method, route, str(response.status_code),
                             time.perf_counter() - started)
            metrics.in_flight.dec()
        return response

    @app.teardown_request
    def settle_in_flight(error: BaseException | None) -> None:
        # after_request does not run when a view raised past every error handler.
        if g.pop("request_started", None) is not None:
            metrics.in_flight.dec()

    if listen_backlog_collector not in scrape_time_collectors:
        scrape_time_collectors.append(listen_backlog_collector)
    app.add_url_rule("/metrics", "metrics", _expose_metrics(app))


def listen_backlog_collector(app: Flask) -> ListenBacklogCollector:
    return ListenBacklogCollector(bind_port(app.extensions["peakshop"].settings.bind))


class ListenBacklogCollector:
    """Connections waiting for a free worker, read when scraped: the one part of a shopper's
    wait that the latency histogram cannot see."""

    def __init__(self, port: int) -> None:
        self.port = port

    def collect(self) -> Iterator[Metric]:
        waiting = listen_backlog(self.port)
        if waiting is None:
            return  # nothing listens on the port here (e.g. a test client): no gauge, not 0
        yield GaugeMetricFamily("peakshop_http_listen_backlog",
                                "Connections waiting for a free worker on the listen socket",
                                value=waiting)


def _expose_metrics(app: Flask):
    def metrics() -> Response:
        """Serve every metric in the Prometheus text format."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            SampleFilesCollector(registry)
        else:
            registry = REGISTRY
        extra = CollectorRegistry()
        for make_collector in scrape_time_collectors:
            extra.register(make_collector(app))
        body = generate_latest(registry) + generate_latest(extra)
        # content_type, not mimetype: Flask would append a second '; charset=utf-8', which
        # Prometheus 3 refuses.
        return Response(body, content_type=CONTENT_TYPE_LATEST)
    return metrics


def serve_metrics_port(app: Flask) -> tuple | None:
    """Serve /metrics on PEAKSHOP_METRICS_BIND from this process (gunicorn's master).

    A port of its own keeps the figures off the public port's Ingress and answers even when
    every worker is busy with a peak. The master reads the workers' sample files (the
    multiprocess collector) and runs the same scrape-time collectors as `/metrics`.

    The master forks workers while this port's threads scrape (at start-up, on the scaler's
    TTIN, when a worker dies): every scrape runs under the fork guard, so that no worker is
    born with a lock the scrape held (`shop.core.fork_guard`).
    """
    bind = app.extensions["peakshop"].settings.metrics_bind
    if not bind:
        return None
    registry = CollectorRegistry()
    if multiprocess_dir():
        SampleFilesCollector(registry)
    else:
        registry = REGISTRY
    collectors: list = [_RegistryCollector(registry)]
    collectors += [make_collector(app) for make_collector in scrape_time_collectors]
    combined = CollectorRegistry(auto_describe=False)
    combined.register(_UnsplitByFork(collectors))
    host, _, port = bind.rpartition(":")
    return start_http_server(int(port), addr=host, registry=combined)


class _RegistryCollector:
    """Another registry's metrics, as one collector (prometheus_client has no merge)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


class _UnsplitByFork:
    """Collectors run to the end under the fork guard, then their metrics handed out: a
    generator paused between metrics would keep the guard for as long as its reader liked."""

    def __init__(self, collectors: list) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        with fork_guard.held():
            metrics = [metric for collector in self.collectors
                       for metric in collector.collect()]
        yield from metrics


class SampleFilesCollector(multiprocess.MultiProcessCollector):
    """The processes' sample files merged, leaving out the files still empty.

    A process creates its file and only then sizes it, so a scrape can find it at 0 bytes,
    and prometheus_client fails the whole merge on it (struct.error: every other process's
    samples lost with it; prometheus/client_python#1199). An empty file holds no sample yet,
    and one left empty by a process killed in that instant never will: skipping it is exact.
    Once sized, a file reads as empty until its header is written, which the library handles.
    """

    def __init__(self, registry: CollectorRegistry | None, path: str | None = None) -> None:
        self.directory = path or multiprocess_dir()
        super().__init__(registry, path)

    def collect(self) -> Iterable[Metric]:
        files = [path for path in glob.glob(os.path.join(self.directory, "*.db"))
                 if _holds_samples(path)]
        return self.merge(files, accumulate=True)


def _holds_samples(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False  # removed meanwhile (a dead process's live gauges)
