"""Combine the signal sources into one `Observation`, reporting each one that fails.

A failed signal becomes None in the Observation (never a stale value passed off as fresh),
is logged, and is counted in the scaler's own metrics; `age_s` tells how long the
longest-missing signal has been gone, so quiet traffic and a broken scrape look different.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from scaler.model import Observation
from scaler.signals.errors import SignalError
from scaler.signals.readings import QueueReading, ReplicaCounts, TrafficReading

log = logging.getLogger("peakshop.scaler.signals")

T = TypeVar("T")


class TrafficSource(Protocol):
    name: str

    def read(self) -> TrafficReading | None: ...


class QueueSource(Protocol):
    name: str

    def read(self) -> QueueReading: ...


class CpuSource(Protocol):
    name: str

    def utilization(self) -> float | None: ...


class BacklogSource(Protocol):
    name: str

    def waiting(self) -> int | None: ...


class SignalRecorder(Protocol):
    def signal_read(self, signal: str, age_s: float) -> None: ...

    def signal_failed(self, signal: str, age_s: float) -> None: ...


def latency_within_slo(reading: TrafficReading | None, slo_s: float,
                       waiting: int | None = None) -> bool | None:
    """Whether p95 met the SLO; an idle window met it; None when traffic is unknown.

    Requests not yet taken by a worker (`waiting`, else the reading's own count) wait about
    waiting / throughput seconds (Little's law) before the server's latency clock even
    starts: a wait beyond the SLO breaks it however fast the requests are once served.
    """
    if reading is None:
        return None
    if waiting is None:
        waiting = reading.waiting
    if waiting and waiting / max(reading.request_rate, 1.0) > slo_s:
        return False
    if reading.latency_p95_s is None:
        return True
    return reading.latency_p95_s <= slo_s


class LiveSignals:
    """Reads every source once per call and builds the Observation."""

    def __init__(self, traffic: TrafficSource, queue: QueueSource,
                 replicas: Callable[[], ReplicaCounts], cpu: CpuSource | None = None, *,
                 backlog: BacklogSource | None = None, latency_slo_s: float = 0.5,
                 recorder: SignalRecorder | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.traffic = traffic
        self.queue = queue
        self.replicas = replicas
        self.cpu = cpu
        self.backlog = backlog
        self.latency_slo_s = latency_slo_s
        self.recorder = recorder
        self.clock = clock
        self.wall_clock = wall_clock
        self._started_at = clock()
        self._last_success: dict[str, float] = {}
        self._last_entries_added: tuple[float, int] | None = None

    def observe(self) -> Observation:
        """One Observation as of now; replica counts must be readable, other signals may fail."""
        counts = self.replicas()
        traffic, traffic_ok = self._read("traffic", self.traffic.read)
        queue, queue_ok = self._read("queue", self.queue.read)
        cpu = self._read("cpu", self.cpu.utilization)[0] if self.cpu is not None else None
        waiting = (self._read("backlog", self.backlog.waiting)[0]
                   if self.backlog is not None else None)
        now = self.clock()
        age_s = max(self._age(name, now) for name in ("traffic", "queue"))
        return Observation(
            # Epoch seconds, so a policy can place "now" in the season of its events file.
            at_s=self.wall_clock(),
            request_rate=traffic.request_rate if traffic else None,
            latency_p95_s=traffic.latency_p95_s if traffic else None,
            latency_within_slo=latency_within_slo(traffic if traffic_ok else None,
                                                  self.latency_slo_s, waiting),
            cpu_utilization=cpu,
            queue_backlog=queue.backlog if queue else None,
            queue_oldest_age_s=queue.oldest_age_s if queue else None,
            orders_rate=self._orders_rate(queue, now) if queue_ok else None,
            web_ready=counts.web_ready,
            web_requested=counts.web_requested,
            workers_ready=counts.workers_ready,
            workers_requested=counts.workers_requested,
            age_s=age_s,
        )

    def _read(self, name: str, read: Callable[[], T]) -> tuple[T | None, bool]:
        try:
            value = read()
        except SignalError as error:
            now = self.clock()
            age = self._age(name, now)
            log.warning("signal %s missing for %.0f s: %s", name, age, error)
            if self.recorder:
                self.recorder.signal_failed(name, age)
            return None, False
        self._last_success[name] = self.clock()
        if self.recorder:
            self.recorder.signal_read(name, 0.0)
        return value, True

    def _age(self, name: str, now: float) -> float:
        return now - self._last_success.get(name, self._started_at)

    def _orders_rate(self, queue: QueueReading | None, now: float) -> float | None:
        if queue is None or queue.entries_added is None:
            return None
        previous, self._last_entries_added = self._last_entries_added, (now, queue.entries_added)
        if previous is None or now <= previous[0] or queue.entries_added < previous[1]:
            return None
        return (queue.entries_added - previous[1]) / (now - previous[0])
