"""One simulation run: a named policy over a trace, measured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from scaler.events import EventSchedule
from scaler.forecast import Forecaster
from scaler.policy import PeakshopPolicy, PolicySettings
from scaler.policy.baselines import HpaCpuPolicy, KedaQueuePolicy
from scaler.rate_history import RateHistory
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.engine import RequestedReplicas, run_closed_loop
from scaler.simulate.metrics import Measurement, measure
from scaler.simulate.references import oracle_plan, static_peak_plan
from scaler.simulate.trace import Trace

POLICY_NAMES = ("peakshop", "hpa-cpu", "keda-queue", "static-peak", "oracle")


class UnknownPolicyError(ValueError):
    """A policy name the simulator does not know."""


@dataclass(frozen=True)
class Run:
    policy: str
    measurement: Measurement
    simulated_in_s: float


def policy_settings_for(cluster: ClusterSettings, **overrides) -> PolicySettings:
    """The peakshop policy's view of the simulated cluster."""
    levers = cluster.push and cluster.max_pod_size > 1.0
    return PolicySettings.for_capacity(cluster.capacity, cluster.bounds, levers=levers,
                                       queue_slo_s=cluster.queue_slo_s,
                                       **{"max_pod_size": cluster.max_pod_size, **overrides})


def peakshop_replicas(trace: Trace, cluster: ClusterSettings, events: EventSchedule | None,
                      previous: RateHistory | None, previous_shift_days: int,
                      settings: PolicySettings | None = None) -> RequestedReplicas:
    """Run `peakshop` as the live controller does: record each reading, then decide."""
    history = RateHistory()
    forecaster = Forecaster(history, previous=previous, previous_shift_days=previous_shift_days,
                            events=events)
    policy = PeakshopPolicy(settings or policy_settings_for(cluster), events=events,
                            forecaster=forecaster)
    return run_closed_loop(trace, cluster, policy, on_observation=history.record)


def requested_replicas(name: str, trace: Trace, cluster: ClusterSettings,
                       events: EventSchedule | None = None, previous: RateHistory | None = None,
                       previous_shift_days: int = 0) -> RequestedReplicas:
    """What the named policy asks for, second by second."""
    if name == "peakshop":
        return peakshop_replicas(trace, cluster, events, previous, previous_shift_days)
    if name == "hpa-cpu":
        return run_closed_loop(trace, cluster, HpaCpuPolicy(cluster.capacity, cluster.bounds,
                                                          max_pod_size=cluster.max_pod_size))
    if name == "keda-queue":
        return run_closed_loop(trace, cluster, KedaQueuePolicy(cluster.capacity, cluster.bounds,
                                                             max_pod_size=cluster.max_pod_size))
    if name == "static-peak":
        return static_peak_plan(trace, cluster)
    if name == "oracle":
        return oracle_plan(trace, cluster)
    raise UnknownPolicyError(f"unknown policy {name!r}: use one of {', '.join(POLICY_NAMES)}")


def simulate(name: str, trace: Trace, cluster: ClusterSettings,
             events: EventSchedule | None = None, previous: RateHistory | None = None,
             previous_shift_days: int = 0, timeline: bool = False) -> Run:
    """Replay the trace under the named policy and measure it (keeping the per-second
    timeline, for plots, if asked)."""
    started = time.perf_counter()
    requested = requested_replicas(name, trace, cluster, events, previous, previous_shift_days)
    measurement = measure(trace, cluster, requested, timeline=timeline)
    return Run(name, measurement, time.perf_counter() - started)
