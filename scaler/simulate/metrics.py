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
from scaler.simulate.room import RoomFigures, RoomTally
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
    timeline: Timeline | None     # per-second series, when asked for
    room: RoomFigures | None = None   # the line's figures, with --waiting-room


# Seconds measured at a time: a day keeps every temporary array small (~0.7 MB), so a season
# is measured in cache instead of in hundreds of megabytes of short-lived arrays.
CHUNK_S = 86400


def scaling_actions(requested: np.ndarray, initial: int) -> int:
    """How many times the requested count changed."""
    return int(np.count_nonzero(np.diff(requested, prepend=initial)))


class _Tally:
    """One Deployment's figures, added up a part of the trace at a time."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.violations = 0
        self.cost = 0.0
        self.theta_u = self.theta_o = 0.0
        self.under = self.over = 0
        self.actions = 0

    def add(self, need: np.ndarray, ready: np.ndarray, violated: np.ndarray,
            wanted: np.ndarray, before: int, cost: np.ndarray) -> None:
        gap = ready - need
        # Zero demand would divide by zero; one pod is the smallest meaningful unit of demand.
        per_demand = 100.0 / (self.seconds * np.maximum(need, 1))
        self.theta_u += float(np.sum(np.maximum(-gap, 0) * per_demand))
        self.theta_o += float(np.sum(np.maximum(gap, 0) * per_demand))
        self.under += int(np.count_nonzero(gap < 0))
        self.over += int(np.count_nonzero(gap > 0))
        self.violations += int(np.count_nonzero(violated))
        self.cost += float(cost.sum())
        self.actions += scaling_actions(wanted, before)

    def figures(self, oldest: float | None) -> Figures:
        return Figures(self.violations, int(round(self.cost)), self.theta_u, self.theta_o,
                       100.0 * self.under / self.seconds, 100.0 * self.over / self.seconds,
                       self.actions, oldest)


def _ready_capacity(requested: np.ndarray, size: np.ndarray | None, initial: int,
                    start: int, stop: int, cluster: ClusterSettings
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(requested, ready capacity, cost) per second over [start, stop): ready pods at the
    in-pod size in effect (a resized pod serves and costs its size)."""
    wanted = requested[start:stop]
    ready = ready_replicas(wanted, initial, cluster.startup_s,
                           requested[max(start - cluster.startup_s, 0):start])
    if size is None:
        return wanted, ready, wanted
    sizes = size[start:stop]
    in_effect = effective_size(sizes, stop - start, cluster.resize_s,
                               size[max(start - cluster.resize_s, 0):start])
    return wanted, ready * in_effect, wanted * sizes


def measure(trace: Trace, cluster: ClusterSettings, requested: RequestedReplicas,
            chunk_s: int = CHUNK_S, timeline: bool = False) -> Measurement:
    """Ready pods, backlog and every figure, from what the policy requested each second.

    Measured a part (`chunk_s`, whole trace steps) at a time, carrying the order backlog and
    the requests of the start-up delay across. The per-second timeline (for plots) is kept
    only when asked for: a season's is 130 MB even in compact types.
    """
    seconds = trace.duration_s
    if len(requested.web) != seconds or len(requested.workers) != seconds:
        raise ValueError("one requested count per second of the trace is needed")
    step = trace.step_s
    chunk_s = max(step, chunk_s // step * step)
    web_need_steps = web_demand(trace.rps, cluster)
    workers_need_steps = worker_demand(trace.orders_per_s, cluster)
    orders_steps = np.asarray(trace.orders_per_s, dtype=float)
    # Compact per-second series, for plots: demand, capacity, misses, the oldest order's age.
    kept = [np.empty(seconds if timeline else 0, kind)
            for kind in (np.int32, np.float32, np.int32, np.float32, bool, bool, np.float32)]
    web, workers = _Tally(seconds), _Tally(seconds)
    room = RoomTally(cluster.pod_slo_rps, cluster.room_react_s) if cluster.waiting_room else None
    rps_steps = np.asarray(trace.rps, dtype=float)
    violated_either = 0
    backlog, max_age = 0.0, 0.0
    web_before, workers_before = requested.initial_web, requested.initial_workers
    for start in range(0, seconds, chunk_s):
        stop = min(start + chunk_s, seconds)
        steps = slice(start // step, stop // step)
        web_need = np.repeat(web_need_steps[steps], step)
        workers_need = np.repeat(workers_need_steps[steps], step)
        orders = np.repeat(orders_steps[steps], step)
        web_wanted, web_ready, web_cost = _ready_capacity(
            requested.web, requested.web_size, requested.initial_web, start, stop, cluster)
        workers_wanted, workers_ready, workers_cost = _ready_capacity(
            requested.workers, requested.workers_size, requested.initial_workers, start, stop,
            cluster)
        waiting = order_backlog(orders, workers_ready, cluster, backlog)
        backlog = float(waiting[-1])
        age = queue_age(waiting, workers_ready, cluster)
        max_age = max(max_age, float(age.max()))
        if room is None:
            web_violated = web_ready < web_need
        else:
            # The room holds back what the ready capacity cannot serve within the SLO: a
            # second misses only while the room has not yet reacted to an overload.
            web_violated = room.add(start, np.repeat(rps_steps[steps], step), web_ready)
        workers_violated = age > cluster.queue_slo_s
        web.add(web_need, web_ready, web_violated, web_wanted, web_before, web_cost)
        workers.add(workers_need, workers_ready, workers_violated, workers_wanted,
                    workers_before, workers_cost)
        web_before, workers_before = int(web_wanted[-1]), int(workers_wanted[-1])
        violated_either += int(np.count_nonzero(web_violated | workers_violated))
        if timeline:
            for series, values in zip(kept, (web_need, web_ready, workers_need, workers_ready,
                                             web_violated, workers_violated, age), strict=True):
                series[start:stop] = values
    web_figures, workers_figures = web.figures(None), workers.figures(max_age)
    # Together: wall-clock seconds with any SLO missed; accuracy over both Deployments' seconds.
    combined = Figures(
        slo_violation_seconds=violated_either,
        replica_seconds=web_figures.replica_seconds + workers_figures.replica_seconds,
        theta_u=(web_figures.theta_u + workers_figures.theta_u) / 2,
        theta_o=(web_figures.theta_o + workers_figures.theta_o) / 2,
        tau_u=(web_figures.tau_u + workers_figures.tau_u) / 2,
        tau_o=(web_figures.tau_o + workers_figures.tau_o) / 2,
        scaling_actions=web_figures.scaling_actions + workers_figures.scaling_actions,
        max_queue_age_s=max_age,
    )
    return Measurement(web=web_figures, workers=workers_figures, combined=combined,
                       timeline=Timeline(*kept) if timeline else None,
                       room=None if room is None else room.figures())
