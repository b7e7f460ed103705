"""The figures a policy is judged by, per Deployment and for web and workers together."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from scaler.simulate.cluster import (
    ClusterSettings,
    effective_size,
    order_backlog,
    queue_age,
    ready_replicas,
    web_demand,
    worker_demand,
)
from scaler.simulate.engine import RequestedReplicas
from scaler.simulate.trace import Trace

FIGURE_KEYS = ("slo_violation_seconds", "replica_seconds", "theta_u", "theta_o", "tau_u",
               "tau_o", "scaling_actions", "max_queue_age_s")


@dataclass(frozen=True)
class Figures:
    """SPEC RG style figures over the T seconds of a trace."""

    slo_violation_seconds: int
    replica_seconds: int
    theta_u: float        # 100/T * sum(max(d - s, 0) / d): how far under, on average
    theta_o: float        # 100/T * sum(max(s - d, 0) / d): how far over, on average
    tau_u: float          # % of seconds under-provisioned
    tau_o: float          # % of seconds over-provisioned
    scaling_actions: int  # changes of the requested count
    max_queue_age_s: float | None  # None for a Deployment without a queue

    def as_dict(self) -> dict:
        """Plain, rounded values for JSON and tables."""
        values = asdict(self)
        for key in ("theta_u", "theta_o", "tau_u", "tau_o", "max_queue_age_s"):
            if values[key] is not None:
                values[key] = round(values[key], 4)
        return values


@dataclass(frozen=True)
class Timeline:
    """Per-second series of one run, kept for figures and plots."""

    web_demand: np.ndarray
    web_ready: np.ndarray
    workers_demand: np.ndarray
    workers_ready: np.ndarray
    web_violated: np.ndarray
    workers_violated: np.ndarray
    queue_age_s: np.ndarray


@dataclass(frozen=True)
class Measurement:
    web: Figures
    workers: Figures
    combined: Figures
    timeline: Timeline


def _accuracy(demand: np.ndarray, ready: np.ndarray) -> tuple[float, float, float, float]:
    """theta_u, theta_o, tau_u, tau_o; a second with no demand counts against one pod."""
    seconds = len(demand)
    gap = ready - demand
    # Zero demand would divide by zero; one pod is the smallest meaningful unit of demand.
    per_demand = 100.0 / (seconds * np.maximum(demand, 1))
    theta_u = float(np.sum(np.maximum(-gap, 0) * per_demand))
    theta_o = float(np.sum(np.maximum(gap, 0) * per_demand))
    tau_u = 100.0 * np.count_nonzero(gap < 0) / seconds
    tau_o = 100.0 * np.count_nonzero(gap > 0) / seconds
    return theta_u, theta_o, tau_u, tau_o


def scaling_actions(requested: np.ndarray, initial: int) -> int:
    """How many times the requested count changed."""
    return int(np.count_nonzero(np.diff(requested, prepend=initial)))


def measure(trace: Trace, cluster: ClusterSettings, requested: RequestedReplicas) -> Measurement:
    """Ready pods, backlog and every figure, from what the policy requested each second."""
    seconds = trace.duration_s
    if len(requested.web) != seconds or len(requested.workers) != seconds:
        raise ValueError("one requested count per second of the trace is needed")
    orders = trace.per_second(trace.orders_per_s)
    web_need = trace.per_second(web_demand(trace.rps, cluster))
    workers_need = trace.per_second(worker_demand(trace.orders_per_s, cluster))
    web_ready = ready_replicas(requested.web, requested.initial_web, cluster.startup_s)
    workers_ready = ready_replicas(requested.workers, requested.initial_workers,
                                   cluster.startup_s)
    # In-pod capacity (in-place resize): ready pods count at the size in effect, and every
    # requested pod costs its size.
    web_cost, workers_cost = requested.web, requested.workers
    if requested.web_size is not None:
        web_ready = web_ready * effective_size(requested.web_size, seconds, cluster.resize_s)
        web_cost = requested.web * requested.web_size
    if requested.workers_size is not None:
        workers_ready = workers_ready * effective_size(requested.workers_size, seconds,
                                                       cluster.resize_s)
        workers_cost = requested.workers * requested.workers_size
    age = queue_age(order_backlog(orders, workers_ready, cluster), workers_ready, cluster)
    web_violated = web_ready < web_need
    workers_violated = age > cluster.queue_slo_s
    max_age = float(age.max())

    def figures(need, ready, violated, wanted, cost, initial, oldest) -> Figures:
        return Figures(int(np.count_nonzero(violated)), int(round(float(cost.sum()))),
                       *_accuracy(need, ready), scaling_actions(wanted, initial), oldest)

    web = figures(web_need, web_ready, web_violated, requested.web, web_cost,
                  requested.initial_web, None)
    workers = figures(workers_need, workers_ready, workers_violated, requested.workers,
                      workers_cost, requested.initial_workers, max_age)
    # Together: wall-clock seconds with any SLO missed; accuracy over both Deployments' seconds.
    combined = Figures(
        slo_violation_seconds=int(np.count_nonzero(web_violated | workers_violated)),
        replica_seconds=web.replica_seconds + workers.replica_seconds,
        theta_u=(web.theta_u + workers.theta_u) / 2,
        theta_o=(web.theta_o + workers.theta_o) / 2,
        tau_u=(web.tau_u + workers.tau_u) / 2,
        tau_o=(web.tau_o + workers.tau_o) / 2,
        scaling_actions=web.scaling_actions + workers.scaling_actions,
        max_queue_age_s=max_age,
    )
    timeline = Timeline(web_need, web_ready, workers_need, workers_ready, web_violated,
                        workers_violated, age)
    return Measurement(web=web, workers=workers, combined=combined, timeline=timeline)
