"""What the scaler sees and what it decides: the shared vocabulary of policy, controller and
simulator. The simulator feeds policies the same `Observation`s the controller builds from live
signals, so what is judged in simulation is exactly what runs in production.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

# The largest rate (requests or orders per second) a trace or history file may hold: far
# beyond any shop, and far below where replica arithmetic overflows.
MAX_RATE = 1e7


class Observation(NamedTuple):
    """One reading of the live signals, as of `at_s` (seconds on the caller's clock).

    Any signal may be None when it could not be read; `age_s` says how old the newest
    reading is, so a policy can tell quiet traffic from a broken scrape. A NamedTuple (an
    immutable value; `_replace` makes a changed copy) because a season's replay builds
    half a million of them and a tuple is built three times faster than a frozen dataclass.
    """

    at_s: float
    request_rate: float | None          # storefront requests/s, averaged over the last 30 s
    latency_p95_s: float | None         # p95 request latency over the same window
    latency_within_slo: bool | None
    cpu_utilization: float | None       # 0..1 over ready web pods
    queue_backlog: int | None           # orders enqueued and not yet acknowledged
    queue_oldest_age_s: float | None    # age of the oldest unacknowledged order
    orders_rate: float | None           # orders/s arriving in the queue
    web_ready: int
    web_requested: int
    workers_ready: int
    workers_requested: int
    age_s: float = 0.0                  # how stale this reading is
    pushed: bool = False                # a push: arrivals outran the ready pods just now


class Reason(enum.Enum):
    """Why a Deployment got the replica count it got."""

    # Members are singletons: hash them by identity (Enum's own hash runs Python code, and
    # decisions are looked up by reason hundreds of thousands of times a season).
    __hash__ = object.__hash__

    REQUEST_RATE = "request_rate"            # reactive: rate per replica
    LATENCY = "latency"                      # reactive: p95 over the SLO
    QUEUE_BACKLOG = "queue_backlog"          # reactive: orders waiting
    QUEUE_AGE = "queue_age"                  # reactive: oldest order too old
    CPU_UTILIZATION = "cpu_utilization"      # reactive: CPU over target (the hpa-cpu baseline)
    SCHEDULED_EVENT = "scheduled_event"      # an announced event is about to start
    FORECAST = "forecast"                    # past seasons say traffic is coming
    WITHIN_TOLERANCE = "within_tolerance"    # change too small to act on
    STABILISATION = "stabilisation"          # scale-down held by the window
    STEP_LIMIT = "step_limit"                # scale-up capped per period
    MIN_REPLICAS = "min_replicas"
    MAX_REPLICAS = "max_replicas"
    STALE_SIGNALS = "stale_signals"          # signals missing: hold the last safe decision
    PUSHED_BACKLOG = "pushed_backlog"        # pushed: requests queue up in the listen backlog
    STANDBY = "standby"                      # a sudden rise seen at this time on earlier days


@dataclass(frozen=True)
class Decision:
    """Replicas for a Deployment, and the in-pod capacity its running pods should have.

    `size` is the capacity of each running pod relative to its template (1.0): an in-place
    resize (CPU, Kubernetes >= 1.33) plus as many more gunicorn workers (TTIN), ready in
    seconds while new pods take start-up; a pod at size 1.5 costs 1.5 pods.
    """

    replicas: int
    reason: Reason
    size: float = 1.0


@dataclass(frozen=True)
class ScalingDecision:
    """One decision per Deployment the scaler manages."""

    web: Decision
    workers: Decision
