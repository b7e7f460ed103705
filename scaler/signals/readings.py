"""What each signal source hands back: small frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrafficReading:
    """Request rate and p95 latency over a window; p95 is None when nothing was served."""

    request_rate: float
    latency_p95_s: float | None
    window_s: float
    waiting: int | None = None   # requests queued for a free worker at the end of the window


@dataclass(frozen=True)
class QueueReading:
    """Orders enqueued and not yet acknowledged, and how long the oldest has waited."""

    backlog: int
    oldest_age_s: float
    entries_added: int | None = None  # stream's lifetime XADD count (Redis 7+), for a rate


@dataclass(frozen=True)
class ReplicaCounts:
    """Ready and requested replicas of the web and worker Deployments."""

    web_ready: int
    web_requested: int
    workers_ready: int
    workers_requested: int
