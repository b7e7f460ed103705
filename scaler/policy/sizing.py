"""How many replicas each part of the `peakshop` policy asks for; pure functions."""

from __future__ import annotations

import math
from typing import NamedTuple

from scaler.capacity import _CEIL_SLACK, replicas_for
from scaler.events import CrowdTimeline, EventSchedule
from scaler.model import Observation, Reason
from scaler.policy.settings import PolicySettings

__all__ = ["Need", "reactive_web", "reactive_workers", "replicas_for", "scheduled_web",
           "scheduled_workers", "forecast_plans", "crowd_timeline", "surge_rate", "standby_web"]


def surge_rate(rate: float, last_rate: float | None, settings: PolicySettings) -> float:
    """The rate to plan for: a fast-growing rate is extrapolated past the start-up delay.

    Readings lag 15 s behind a 30 s average and a pod needs startup_s to serve, so a crowd
    that is still arriving will be larger by the time new pods are ready.
    """
    if not last_rate or rate <= last_rate * settings.surge_growth:
        return rate
    periods = settings.surge_horizon_s / settings.period_s
    return rate * min((rate / last_rate) ** periods, settings.surge_cap)


class Need(NamedTuple):
    """What one Deployment needs now: `steady` for the load seen, `now` with any burst.

    A burst (a surge extrapolated, p95 over the SLO, a backlog to drain) is asked for at
    once but held only burst_hold_s, long enough for its pods to serve: once it is over,
    capacity follows the load again instead of staying at the burst's height for a whole
    stabilisation window.
    """

    steady: int
    now: int
    reason: Reason
    usage_ratio: float | None   # load / target capacity of the current replicas


# Enum members read through their class cost a quarter of a microsecond each (CPython 3.11:
# EnumType's __getattr__ takes the slow path); the reasons every decision names are bound once.
_REQUEST_RATE = Reason.REQUEST_RATE

# Need(...) goes through a generated Python __new__; two Needs are made every decision, so
# the hot paths build them as the tuples they are (the same value, a third of the cost).
_tuple_new = tuple.__new__


def reactive_web(observation: Observation, current: int, last_rate: float | None,
                 settings: PolicySettings, expect_surges: bool = True) -> Need:
    """Web pods for the observed rate, and for a surge or a p95 over the SLO."""
    per_pod = settings.pod_slo_rps * settings.web_target
    rate = observation.request_rate or 0.0
    steady = math.ceil(rate / per_pod - _CEIL_SLACK)   # replicas_for, inlined: hot path
    now, reason = steady, _REQUEST_RATE
    if expect_surges and last_rate and rate > last_rate * settings.surge_growth:
        surging = replicas_for(surge_rate(rate, last_rate, settings), per_pod)
        if surging > now:
            now = surging
    within_slo = observation.latency_within_slo
    # A p95 over the SLO that the rate already explains is being dealt with (the pods are
    # asked for); only an unexplained one calls for a step beyond the rate.
    if within_slo is not None and not within_slo and steady <= observation.web_ready:
        # p95 over the SLO: the ready pods already carry more than they can; the rate shown
        # is an average of the past, so ask for a clear step beyond what is ready.
        saturated = replicas_for(
            observation.web_ready * settings.pod_slo_rps * settings.latency_boost, per_pod)
        if saturated > now:
            now, reason = saturated, Reason.LATENCY
    return _tuple_new(Need, (steady, now, reason, rate / (max(current, 1) * per_pod)))


def reactive_workers(observation: Observation, settings: PolicySettings) -> Need:
    """Workers for the arriving orders, and for draining the backlog within queue_drain_s,
    or sooner if the oldest order would otherwise outwait the queue SLO."""
    per_worker = settings.worker_orders_per_s
    arriving = (observation.orders_rate or 0.0) / (per_worker * settings.worker_target)
    backlog = observation.queue_backlog or 0
    if not backlog:
        steady = math.ceil(arriving - _CEIL_SLACK)   # replicas_for(arriving, 1.0): hot path
        return _tuple_new(Need, (steady, steady, _REQUEST_RATE, None))
    age = observation.queue_oldest_age_s or 0.0
    left_s = max(settings.queue_slo_s - age, 1.0)
    draining = backlog / (per_worker * min(settings.queue_drain_s, left_s))
    reason = Reason.QUEUE_AGE if age > settings.queue_slo_s / 2 else Reason.QUEUE_BACKLOG
    return Need(replicas_for(arriving, 1.0), replicas_for(arriving + draining, 1.0), reason, None)


def crowd_timeline(schedule: EventSchedule, settings: PolicySettings) -> CrowdTimeline:
    """When to be ready for which announced crowd: from the start-up delay plus the crowd
    gathering early (event_lead_s) before an event until event_hold_s after its start."""
    return schedule.crowd_timeline(settings.startup_s + settings.event_lead_s,
                                   settings.event_hold_s)


def scheduled_web(crowd_peaks: float, evening_peak: float, calm_rate: float,
                  settings: PolicySettings, crowd_rps: float = 0.0) -> int:
    """Web pods for the calm rate plus the announced crowd (peaks and absolute requests/s
    of every overlapping event, added up)."""
    planned = calm_rate + (crowd_peaks * evening_peak + crowd_rps) * settings.event_margin
    return replicas_for(planned, settings.pod_slo_rps * settings.event_target)


def scheduled_workers(crowd_peaks: float, evening_peak: float, calm_orders: float,
                      orders_share: float, settings: PolicySettings,
                      crowd_rps: float = 0.0) -> int:
    """Workers for the calm order rate plus the orders the announced crowd places."""
    planned = calm_orders + ((crowd_peaks * evening_peak + crowd_rps) * settings.event_margin
                             * orders_share)
    return replicas_for(planned, settings.worker_orders_per_s * settings.event_target)


def forecast_plans(rate: float, orders_share: float, settings: PolicySettings) -> tuple[int, int]:
    """Web pods for the forecast rate, and workers for the orders it places (inlined in
    `PeakshopPolicy.decide`: change both)."""
    # replicas_for, inlined: asked every decision
    return (math.ceil(rate / (settings.pod_slo_rps * settings.forecast_target) - _CEIL_SLACK),
            math.ceil(rate * orders_share
                      / (settings.worker_orders_per_s * settings.forecast_target) - _CEIL_SLACK))


def standby_web(rate: float, rise: float, settings: PolicySettings) -> int:
    """Web pods for the rate now grown by a rise seen at this time on earlier days (capped),
    within the SLO: a surprise that recurs finds its pods ready instead of waiting for a push
    and a resize."""
    return replicas_for(rate * min(rise, settings.standby_rise_cap), settings.pod_slo_rps)
