"""How many web replicas an announced event needs. Pure functions: no I/O, no side effects.

The platform serves every shop from one pool of web replicas, so an event is planned for the
highest total rate of all events (every shop's) running at once during it. One replica is
planned at `pod_max_rps x utilisation` (40 x 0.8 = 32 requests per second by default), the
headroom that keeps latency flat when the real peak overshoots the announced one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# The estimate asks for replicas this long before the start: pods need time to pull,
# start and pass readiness, and the first wave of a mail blast arrives in seconds.
READY_LEAD = timedelta(minutes=10)


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime
    rps: int
    key: int = 0  # which event this is, so that it is never counted twice

    def overlaps(self, other: Window) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Estimate:
    web_replicas: int
    ready_by: datetime
    peak_rps: int  # the highest total rate of overlapping events during this one


def peak_concurrent_rps(event: Window, others: Iterable[Window]) -> int:
    """The highest sum of rates at any instant of `event`, counting `event` itself.

    `others` may include `event` itself (same `key`); it is counted once.
    """
    overlapping = [other for other in others
                   if other.key != event.key and other.overlaps(event)]
    # The total can only rise when an event starts, so checking at every start is enough.
    instants = [event.starts_at] + [max(o.starts_at, event.starts_at) for o in overlapping]
    best = event.rps
    for instant in instants:
        running = sum(o.rps for o in overlapping if o.starts_at <= instant < o.ends_at)
        best = max(best, event.rps + running)
    return best


def replicas_for(rps: int, pod_max_rps: int, utilisation: float) -> int:
    """Replicas to serve `rps` with each at `utilisation` of its capacity; at least one."""
    per_replica = pod_max_rps * utilisation
    # Rounded first so that 64 rps at 32 per replica is 2, not 3 by a float's last bit.
    return max(1, math.ceil(round(rps / per_replica, 9)))


def estimate(event: Window, others: Iterable[Window], pod_max_rps: int,
             utilisation: float) -> Estimate:
    peak = peak_concurrent_rps(event, others)
    return Estimate(replicas_for(peak, pod_max_rps, utilisation),
                    event.starts_at - READY_LEAD, peak)
