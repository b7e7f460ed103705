"""Once a second during a rehearsal: what the stack runs (web and order workers, queue) and
what Locust has written to its timeline so far.

Everything is read from outside the storefront (/proc, Redis, a file), never through it, so
sampling costs the server nothing and still works while it is drowning.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from common.order_stream import queue_depth
from loadtests import processes
from scaler.signals.procfs import cpu_seconds


@dataclass(frozen=True)
class StackSample:
    """The stack at one instant; CPU figures are cumulative seconds."""

    epoch: float
    web_workers: int
    order_workers: int
    queue_depth: int | None
    queue_age_s: float | None
    server_cpu_s: float
    locust_cpu_s: float
    machine_busy_s: float = 0.0   # every process on the machine, all cores
    server_p95_s: float | None = None  # as the storefront measured it (/metrics)


def gunicorn_master(pidfile: Path) -> int | None:
    """The master's pid from its pidfile, if that process is alive."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


LATENCY_HISTOGRAM = "peakshop_http_request_duration_seconds"


def latency_buckets(exposition: str) -> dict[float, float]:
    """Cumulative request counts per latency bucket bound, over every route but /metrics."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != LATENCY_HISTOGRAM:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("route") != "/metrics":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def p95_between(before: dict[float, float], after: dict[float, float]) -> float | None:
    """The p95 (a bucket bound) of the requests counted between two scrapes."""
    bounds = sorted(after)
    counts = [after[bound] - before.get(bound, 0.0) for bound in bounds]
    if not counts or counts[-1] <= 0:
        return None
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= 0.95 * counts[-1]:
            return bound
    return bounds[-1]


class ServerLatency:
    """Scrapes the storefront's /metrics in a thread of its own (a scrape waits in line with
    the shoppers' requests) and keeps the p95 of the requests served between two scrapes."""

    def __init__(self, metrics_url: str, every_s: float = 2.0) -> None:
        self.metrics_url = metrics_url
        self.every_s = every_s
        self.p95_s: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="server-latency", daemon=True)

    def start(self) -> ServerLatency:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        previous: dict[float, float] | None = None
        while not self._stop.wait(self.every_s):
            try:
                response = requests.get(self.metrics_url, timeout=10)
                current = latency_buckets(response.text) if response.ok else None
            except (requests.RequestException, ValueError):
                current = None
            if current is not None and previous is not None:
                self.p95_s = p95_between(previous, current)
            previous = current or previous


class StackProbe:
    """Reads web workers (children of gunicorn's master), order workers, queue, CPU."""

    def __init__(self, pidfile: Path, order_workers: Callable[[], int],
                 redis_client: redis.Redis, locust_pid: Callable[[], int | None],
                 server_latency: ServerLatency | None = None,
                 gate_pid: Callable[[], int | None] | None = None) -> None:
        self.pidfile = pidfile
        self.gate_pid = gate_pid
        self.order_workers = order_workers
        self.redis = redis_client
        self.locust_pid = locust_pid
        self.server_latency = server_latency

    def sample(self) -> StackSample:
        master = gunicorn_master(self.pidfile)
        try:
            depth = queue_depth(self.redis)
            length, age = depth.length, depth.oldest_age_s
        except redis.RedisError:
            length, age = None, None
        locust = self.locust_pid()
        server_cpu_s = processes.tree_cpu_seconds(master) if master else 0.0
        gate = self.gate_pid() if self.gate_pid else None
        if gate:
            # The gate in front of gunicorn is part of the server: its own CPU counts too,
            # and that of the gate processes it forked (PEAKSHOP_GATE_PROCESSES), but not
            # gunicorn's again (its master is the gate's child too).
            server_cpu_s += cpu_seconds(gate) or 0.0
            server_cpu_s += sum(cpu_seconds(child) or 0.0 for child in
                                processes.children_of(gate) if child != master)
        return StackSample(
            epoch=time.time(),
            web_workers=len(processes.children_of(master)) if master else 0,
            order_workers=self.order_workers(),
            queue_depth=length, queue_age_s=age,
            server_cpu_s=server_cpu_s,
            locust_cpu_s=processes.tree_cpu_seconds(locust) if locust else 0.0,
            machine_busy_s=processes.machine_busy_seconds(),
            server_p95_s=self.server_latency.p95_s if self.server_latency else None)


class TimelineReader:
    """Follows Locust's JSON-lines timeline as it grows: per-second rows, then totals."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""
        self.rows: list[dict] = []
        self.totals: dict | None = None

    def read_new(self) -> list[dict]:
        """Rows written since the last call (a half-written last line waits for the next)."""
        try:
            with self.path.open(encoding="utf-8") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
                self.offset = handle.tell()
        except FileNotFoundError:
            return []
        lines = (self.partial + chunk).split("\n")
        self.partial = lines.pop()
        fresh = []
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            if "totals" in row:
                self.totals = row["totals"]
            else:
                fresh.append(row)
        self.rows.extend(fresh)
        return fresh
