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

from scaler.capacity import Bounds, Capacity, in_pod_size
from scaler.guardrails import (
    Recommendations,
    limit_scale_up,
    remember,
    stabilise,
    within_tolerance,
)
from scaler.model import Decision, Observation, Reason, ScalingDecision
from scaler.policy.decisions import both, decision


@dataclass(frozen=True)
class HpaBehaviour:
    """The HPA's defaults, the same for both baselines."""

    bounds: Bounds = Bounds()
    tolerance: float = 0.1
    scale_up_factor: float = 2.0       # Percent policy: 100 % per period
    scale_up_pods: int = 4             # Pods policy: 4 per period (the larger one wins)
    scale_down_window_s: float = 300.0
    # The platform's in-pod resize, driven by the HPA's own metric (given to the baselines
    # because peakshop has it too): while new pods start, running pods grow to carry what the
    # metric asks for, up to this factor. 1.0: no resize.
    max_pod_size: float = 1.0


_tuple_new = tuple.__new__
# Enum members read through their class cost a quarter of a microsecond each (CPython 3.11:
# EnumType's __getattr__ takes the slow path); the reasons every decision names are bound once.
_CPU, _RATE, _BACKLOG = Reason.CPU_UTILIZATION, Reason.REQUEST_RATE, Reason.QUEUE_BACKLOG
_WITHIN_TOLERANCE, _STABILISATION = Reason.WITHIN_TOLERANCE, Reason.STABILISATION
_MIN_REPLICAS, _MAX_REPLICAS = Reason.MIN_REPLICAS, Reason.MAX_REPLICAS
_STEP_LIMIT, _STALE_SIGNALS = Reason.STEP_LIMIT, Reason.STALE_SIGNALS


class HpaTarget(NamedTuple):
    """One Deployment's HPA: its last requested count and the window of recommendations."""

    replicas: int
    recommendations: Recommendations = ()
    size: float = 1.0


class HpaState(NamedTuple):
    web: HpaTarget
    workers: HpaTarget


def hpa_step(target: HpaTarget, wanted: float | None, usage_ratio: float, at_s: float,
             behaviour: HpaBehaviour, reason: Reason, ready: int) -> tuple[Decision, HpaTarget]:
    """One HPA reconciliation for one Deployment; no side effects.

    `wanted` is the metric's recommendation in (fractional) template pods, None when the
    metric could not be read: the HPA then leaves the scale alone.
    """
    current, recommendations, _ = target
    if wanted is None:
        # The scale is left alone, within the bounds (a Deployment at 0 still gets its min).
        held = behaviour.bounds.clamp(current)
        reason = _STALE_SIGNALS if held == current else _MIN_REPLICAS
        return decision(held, reason, target.size), target._replace(replicas=held)
    desired = math.ceil(wanted - 1e-9)
    # (A baseline makes two steps every period all season: the common cases skip a call.)
    max_pod_size = behaviour.max_pod_size
    size = (1.0 if max_pod_size <= 1.0 or wanted <= ready   # in_pod_size's first case
            else in_pod_size(wanted, ready, max_pod_size))
    if within_tolerance(usage_ratio, behaviour.tolerance):   # tolerance_band
        proposed = current
        if desired != current:
            reason = _WITHIN_TOLERANCE
    else:
        proposed = desired
    if recommendations and recommendations[0][1] > proposed:
        recommendations = remember(recommendations, at_s, proposed,
                                   behaviour.scale_down_window_s)
        stable = stabilise(current, proposed, recommendations)
        if stable > proposed:
            reason = _STABILISATION
    else:   # nothing higher remembered: remember's and stabilise's first cases
        recommendations = ((at_s, proposed),)
        stable = proposed
    limited = (limit_scale_up(current, stable, behaviour.scale_up_factor,
                              behaviour.scale_up_pods) if stable > current else stable)
    if limited < stable:
        reason = _STEP_LIMIT
    bounds = behaviour.bounds
    if bounds.min_replicas <= limited <= bounds.max_replicas:
        bounded = limited                       # within bounds (nearly always): no clamp
    else:
        bounded = bounds.clamp(limited)
        reason = _MIN_REPLICAS if bounded > limited else _MAX_REPLICAS
    # Built as the tuple it is: a baseline makes two every period, all season long.
    return decision(bounded, reason, size), _tuple_new(HpaTarget,
                                                       (bounded, recommendations, size))


class HpaCpuPolicy:
    """`hpa-cpu`: HPA v2 on CPU, target 0.6, every 15 s, for web and workers."""

    period_s = 15

    def __init__(self, capacity: Capacity, bounds: Bounds, target_utilization: float = 0.6,
                 behaviour: HpaBehaviour | None = None, max_pod_size: float = 1.0) -> None:
        self.capacity = capacity
        self.target = target_utilization
        self.behaviour = behaviour or HpaBehaviour(bounds, max_pod_size=max_pod_size)

    def initial_state(self, web_replicas: int, worker_replicas: int) -> HpaState:
        """Start from the Deployments' current sizes with empty windows."""
        return HpaState(HpaTarget(web_replicas), HpaTarget(worker_replicas))

    def worker_cpu(self, observation: Observation, state_size: float = 1.0) -> float | None:
        """Workers are fully busy while orders wait, else busy for their share of arrivals."""
        if observation.queue_backlog is None or observation.orders_rate is None:
            return None
        if observation.queue_backlog > 0:
            return 1.0
        capacity = (observation.workers_ready * self.capacity.worker_orders_per_s
                    * state_size)
        return min(1.0, observation.orders_rate / capacity)

    def decide(self, observation: Observation, state: HpaState) -> tuple[ScalingDecision, HpaState]:
        """desired = ceil(ready * utilization / target) per Deployment; no side effects."""
        web, workers = state
        at_s, behaviour = observation.at_s, self.behaviour
        # Utilisation is of the pods as sized now: a resized pod counts its size.
        utilization, ready = observation.cpu_utilization, observation.web_ready
        wanted, ratio = None, 1.0
        if utilization is not None:
            ratio = utilization / self.target
            wanted = ready * web.size * ratio
        web_decision, web = hpa_step(web, wanted, ratio, at_s, behaviour, _CPU, ready)
        utilization, ready = self.worker_cpu(observation, workers.size), observation.workers_ready
        wanted, ratio = None, 1.0
        if utilization is not None:
            ratio = utilization / self.target
            wanted = ready * workers.size * ratio
        workers_decision, workers = hpa_step(workers, wanted, ratio, at_s, behaviour, _CPU, ready)
        return both(web_decision, workers_decision), _tuple_new(HpaState, (web, workers))


class KedaQueuePolicy:
    """`keda-queue`: KEDA polling every 30 s, AverageValue targets, HPA behaviour underneath.

    Web scales on a Prometheus request-rate trigger (threshold pod_max_rps * 0.6 per pod),
    workers on the Redis Streams trigger (pendingEntriesCount 5 per replica).
    """

    period_s = 30

    def __init__(self, capacity: Capacity, bounds: Bounds, rate_share: float = 0.6,
                 pending_entries: int = 5, behaviour: HpaBehaviour | None = None,
                 max_pod_size: float = 1.0) -> None:
        self.rate_per_pod = capacity.pod_max_rps * rate_share
        self.pending_per_replica = pending_entries
        self.behaviour = behaviour or HpaBehaviour(bounds, max_pod_size=max_pod_size)

    def initial_state(self, web_replicas: int, worker_replicas: int) -> HpaState:
        """Start from the Deployments' current sizes with empty windows."""
        return HpaState(HpaTarget(web_replicas), HpaTarget(worker_replicas))

    @staticmethod
    def _average_value(total: float | None, per_replica: float,
                       current: int) -> tuple[float | None, float]:
        """The HPA's external AverageValue metric: desired = ceil(total / target)."""
        if total is None:
            return None, 1.0
        return total / per_replica, total / (per_replica * current)

    def decide(self, observation: Observation, state: HpaState) -> tuple[ScalingDecision, HpaState]:
        """One KEDA poll for both Deployments; no side effects."""
        web_desired, web_ratio = self._average_value(
            observation.request_rate, self.rate_per_pod, state.web.replicas)
        backlog = observation.queue_backlog
        workers_desired, workers_ratio = self._average_value(
            None if backlog is None else float(backlog), self.pending_per_replica,
            state.workers.replicas)
        web, web_target = hpa_step(state.web, web_desired, web_ratio, observation.at_s,
                                   self.behaviour, _RATE, observation.web_ready)
        workers, workers_target = hpa_step(state.workers, workers_desired, workers_ratio,
                                           observation.at_s, self.behaviour,
                                           _BACKLOG, observation.workers_ready)
        return both(web, workers), _tuple_new(HpaState, (web_target, workers_target))
