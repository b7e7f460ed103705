"""What one replica can do and how many replicas a Deployment may have: the one place where
load becomes a replica count and a count meets its bounds.

The policy, the baselines, the simulator and the live scaler all size with `replicas_for` and
bound with `Bounds.clamp`; the controller only acts on what they decided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A rate that is an exact multiple of the per-replica capacity must not round up a replica.
_CEIL_SLACK = 1e-9


def replicas_for(load: float, per_replica: float) -> int:
    """Replicas needed to carry `load` (>= 0) at `per_replica` each."""
    return math.ceil(load / per_replica - _CEIL_SLACK)


def in_pod_size(wanted_pods: float, ready: int, max_pod_size: float) -> float:
    """The in-pod size running pods need to carry `wanted_pods` template pods' worth now
    (1.0 when they already can, at most max_pod_size; two decimals, as a resize is asked)."""
    if max_pod_size <= 1.0 or ready <= 0 or wanted_pods <= ready:
        return 1.0
    return round(min(max_pod_size, wanted_pods / ready) + 0.005, 2)


def in_pod_size_for(load: float, per_replica: float, ready: int, max_pod_size: float) -> float:
    """`in_pod_size` for carrying `load` at `per_replica` each; 1.0 at once when the ready
    replicas already carry it (the common case, and a policy asks every decision)."""
    if load <= ready * per_replica:
        return 1.0
    return in_pod_size(replicas_for(load, per_replica), ready, max_pod_size)


@dataclass(frozen=True)
class Capacity:
    """What one replica can do; the policy sizes replicas from it. Measure your own."""

    pod_max_rps: float = 40.0           # storefront requests/s that saturate one web replica
    worker_orders_per_s: float = 5.0    # orders one order worker confirms per second
    startup_s: float = 45.0             # from asking for a replica to it serving
    slo_utilization: float = 0.8        # latency holds up to this share of saturation

    @property
    def pod_slo_rps(self) -> float:
        """Requests/s one web replica serves within the latency SLO."""
        return self.pod_max_rps * self.slo_utilization


@dataclass(frozen=True)
class Bounds:
    """The replica range of a Deployment; every decision ends inside it."""

    min_replicas: int = 2
    max_replicas: int = 200

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"replica bounds need 1 <= min ({self.min_replicas}) <= max "
                             f"({self.max_replicas}): raise the maximum or lower the minimum")

    def clamp(self, replicas: int) -> int:
        """`replicas` moved into [min_replicas, max_replicas]."""
        low, high = self.min_replicas, self.max_replicas
        return low if replicas < low else high if replicas > high else replicas
