"""The autoscalers `peakshop` is compared with, implemented as their documentation describes.

They live beside the `peakshop` policy (not in the simulator) because the live scaler runs
them too (`peakshop scaler run --policy hpa-cpu`), exactly as the simulator judges them.

`hpa-cpu` and `keda-queue` run the Kubernetes HPA v2 algorithm (replica_calculator.go and the
default `behavior`): a usage ratio against a target, a 0.1 tolerance band, scale-up limited to
max(2 x current, current + 4) per period, a 300 s scale-down stabilisation window in which the
highest recommendation wins, then min/max. `current` is the Deployment's requested count, which
the HPA reads fresh from the scale subresource.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from scaler.capacity import Bounds, Capacity
from scaler.guardrails import (
    Recommendations,
    limit_scale_up,
    remember,
    stabilise,
    tolerance_band,
)
from scaler.model import Decision, Observation, Reason, ScalingDecision
from scaler.policy.decisions import decision


@dataclass(frozen=True)
class HpaBehaviour:
    """The HPA's defaults, the same for both baselines."""

    bounds: Bounds = Bounds()
    tolerance: float = 0.1
    scale_up_factor: float = 2.0       # Percent policy: 100 % per period
    scale_up_pods: int = 4             # Pods policy: 4 per period (the larger one wins)
    scale_down_window_s: float = 300.0


class HpaTarget(NamedTuple):
    """One Deployment's HPA: its last requested count and the window of recommendations."""

    replicas: int
    recommendations: Recommendations = ()


class HpaState(NamedTuple):
    web: HpaTarget
    workers: HpaTarget


def hpa_step(target: HpaTarget, desired: int | None, usage_ratio: float, at_s: float,
             behaviour: HpaBehaviour, reason: Reason) -> tuple[Decision, HpaTarget]:
    """One HPA reconciliation for one Deployment; no side effects.

    `desired` None means the metric could not be read: the HPA then leaves the scale alone.
    """
    current = target.replicas
    if desired is None:
        return decision(current, Reason.STALE_SIGNALS), target
    proposed = tolerance_band(current, desired, usage_ratio, behaviour.tolerance)
    if proposed == current and desired != current:
        reason = Reason.WITHIN_TOLERANCE
    recommendations = remember(target.recommendations, at_s, proposed,
                               behaviour.scale_down_window_s)
    stable = stabilise(current, proposed, recommendations)
    if stable > proposed:
        reason = Reason.STABILISATION
    limited = limit_scale_up(current, stable, behaviour.scale_up_factor, behaviour.scale_up_pods)
    if limited < stable:
        reason = Reason.STEP_LIMIT
    bounded = behaviour.bounds.clamp(limited)
    if bounded > limited:
        reason = Reason.MIN_REPLICAS
    elif bounded < limited:
        reason = Reason.MAX_REPLICAS
    return decision(bounded, reason), HpaTarget(bounded, recommendations)


class HpaCpuPolicy:
    """`hpa-cpu`: HPA v2 on CPU, target 0.6, every 15 s, for web and workers."""

    period_s = 15

    def __init__(self, capacity: Capacity, bounds: Bounds, target_utilization: float = 0.6,
                 behaviour: HpaBehaviour | None = None) -> None:
        self.capacity = capacity
        self.target = target_utilization
        self.behaviour = behaviour or HpaBehaviour(bounds)

    def initial_state(self, web_replicas: int, worker_replicas: int) -> HpaState:
        """Start from the Deployments' current sizes with empty windows."""
        return HpaState(HpaTarget(web_replicas), HpaTarget(worker_replicas))

    def worker_cpu(self, observation: Observation) -> float | None:
        """Workers are fully busy while orders wait, else busy for their share of arrivals."""
        if observation.queue_backlog is None or observation.orders_rate is None:
            return None
        if observation.queue_backlog > 0:
            return 1.0
        capacity = observation.workers_ready * self.capacity.worker_orders_per_s
        return min(1.0, observation.orders_rate / capacity)

    def decide(self, observation: Observation, state: HpaState) -> tuple[ScalingDecision, HpaState]:
        """desired = ceil(ready * utilization / target) per Deployment; no side effects."""
        decisions, targets = [], []
        readings = ((observation.cpu_utilization, observation.web_ready, state.web),
                    (self.worker_cpu(observation), observation.workers_ready, state.workers))
        for utilization, ready, target in readings:
            desired, ratio = None, 1.0
            if utilization is not None:
                ratio = utilization / self.target
                desired = math.ceil(ready * ratio - 1e-9)
            decision, new_target = hpa_step(target, desired, ratio, observation.at_s,
                                            self.behaviour, Reason.CPU_UTILIZATION)
            decisions.append(decision)
            targets.append(new_target)
        return ScalingDecision(*decisions), HpaState(*targets)


class KedaQueuePolicy:
    """`keda-queue`: KEDA polling every 30 s, AverageValue targets, HPA behaviour underneath.

    Web scales on a Prometheus request-rate trigger (threshold pod_max_rps * 0.6 per pod),
    workers on the Redis Streams trigger (pendingEntriesCount 5 per replica).
    """

    period_s = 30

    def __init__(self, capacity: Capacity, bounds: Bounds, rate_share: float = 0.6,
                 pending_entries: int = 5, behaviour: HpaBehaviour | None = None) -> None:
        self.rate_per_pod = capacity.pod_max_rps * rate_share
        self.pending_per_replica = pending_entries
        self.behaviour = behaviour or HpaBehaviour(bounds)

    def initial_state(self, web_replicas: int, worker_replicas: int) -> HpaState:
        """Start from the Deployments' current sizes with empty windows."""
        return HpaState(HpaTarget(web_replicas), HpaTarget(worker_replicas))

    @staticmethod
    def _average_value(total: float | None, per_replica: float,
                       current: int) -> tuple[int | None, float]:
        """The HPA's external AverageValue metric: desired = ceil(total / target)."""
        if total is None:
            return None, 1.0
        return math.ceil(total / per_replica - 1e-9), total / (per_replica * current)

    def decide(self, observation: Observation, state: HpaState) -> tuple[ScalingDecision, HpaState]:
        """One KEDA poll for both Deployments; no side effects."""
        web_desired, web_ratio = self._average_value(
            observation.request_rate, self.rate_per_pod, state.web.replicas)
        backlog = observation.queue_backlog
        workers_desired, workers_ratio = self._average_value(
            None if backlog is None else float(backlog), self.pending_per_replica,
            state.workers.replicas)
        web, web_target = hpa_step(state.web, web_desired, web_ratio, observation.at_s,
                                   self.behaviour, Reason.REQUEST_RATE)
        workers, workers_target = hpa_step(state.workers, workers_desired, workers_ratio,
                                           observation.at_s, self.behaviour,
                                           Reason.QUEUE_BACKLOG)
        return ScalingDecision(web, workers), HpaState(web_target, workers_target)
