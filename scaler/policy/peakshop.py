"""`peakshop`: the highest of reactive sizing, announced events and the forecast, within rails.

(1) reactive: rate per pod at `web_target` of a pod's SLO capacity, a surge extrapolated past
the start-up delay, a clear step when p95 leaves the SLO; orders per worker plus the backlog
to drain; (2) announced events: ready `event_lead_s` + `startup_s` before they start, sized
on the day's evening peak read from the past; (3) the forecast for now + startup_s + a margin,
and standby for the largest sudden rise seen around the coming minutes in the last week.
Then the guard rails: tolerance band, stabilisation windows, step limits, min/max. Stale or
missing signals hold the last decision. See `scaler.policy` for how a control loop uses it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from scaler.capacity import _CEIL_SLACK, in_pod_size_for, replicas_for
from scaler.events import Event, EventSchedule
from scaler.forecast import Forecaster, Outlook
from scaler.guardrails import (
    Recommendations,
    limit_scale_down,
    limit_scale_up,
    remember,
    stabilise,
    within_tolerance,
)
from scaler.model import Observation, Reason, ScalingDecision
from scaler.policy.decisions import decision, scaling_decision
from scaler.policy.settings import PolicySettings
from scaler.policy.sizing import (
    Need,
    crowd_timeline,
    reactive_web,
    reactive_workers,
    scheduled_web,
    scheduled_workers,
    standby_web,
)

_REACTIVE = frozenset({Reason.REQUEST_RATE, Reason.LATENCY, Reason.QUEUE_BACKLOG,
                       Reason.QUEUE_AGE})


# Recent recommendations of one Deployment: (for the load seen, with bursts). A plain pair:
# two are made every decision, and a NamedTuple is built several times slower.
Windows = tuple[Recommendations, Recommendations]
NO_WINDOWS: Windows = ((), ())


_tuple_new = tuple.__new__
# Enum members read through their class cost a quarter of a microsecond each (CPython 3.11:
# EnumType's __getattr__ takes the slow path); the reasons every decision names are bound once.
_FORECAST, _REQUEST_RATE = Reason.FORECAST, Reason.REQUEST_RATE
_WITHIN_TOLERANCE = Reason.WITHIN_TOLERANCE
_STANDBY, _SCHEDULED_EVENT = Reason.STANDBY, Reason.SCHEDULED_EVENT
_PUSHED_BACKLOG = Reason.PUSHED_BACKLOG
_MIN_REPLICAS, _MAX_REPLICAS = Reason.MIN_REPLICAS, Reason.MAX_REPLICAS
_STABILISATION, _STEP_LIMIT = Reason.STABILISATION, Reason.STEP_LIMIT
_STALE_SIGNALS = Reason.STALE_SIGNALS


class PolicyState(NamedTuple):
    """What the policy carries from one decision to the next (immutable)."""

    web_replicas: int
    worker_replicas: int
    web_window: Windows = NO_WINDOWS       # recent recommendations, for stabilisation
    worker_window: Windows = NO_WINDOWS
    last_rate: float | None = None         # request rate of the previous reading (surges)
    calm_rate: float | None = None         # request rate last seen with no event under way
    calm_orders: float = 0.0
    orders_share: float = 0.0              # orders per storefront request, lately
    outlook: Outlook | None = None         # the forecast, refreshed every few minutes
    pushed_rate: float | None = None       # arrival rate of the last push ...
    pushed_at_s: float = 0.0               # ... and when it came
    sizes: tuple[float, float] = (1.0, 1.0)  # in-pod size last asked for web and workers
    web_ready_at_s: float = 0.0            # when the web pods last asked for serve
    push_confirmed: bool = True            # the pushed rate may ask for pods, not only a size


def with_plan(need: Need, plan: int, plan_reason: Reason) -> Need:
    """A need raised to what events or the forecast plan, if that is more."""
    if plan <= need.steady:
        return need
    if plan <= need.now:
        return Need(plan, need.now, need.reason, need.usage_ratio)
    return Need(plan, plan, plan_reason, None)


def guard(current: int, need: Need, at_s: float, windows: Windows,
          settings: PolicySettings) -> tuple[int, Reason, Windows]:
    """Apply the rails in order: tolerance, stabilisation, step limits, bounds.

    The load seen is remembered for scale_down_window_s; a burst only for burst_hold_s,
    long enough for the pods started for it to serve, not for a whole window.
    """
    window, burst = windows
    steady, wanted, reason, usage_ratio = need
    if (usage_ratio is not None and wanted == steady != current and reason in _REACTIVE
            and within_tolerance(usage_ratio, settings.tolerance, settings.tolerance_up)):
        steady = wanted = current
        reason = _WITHIN_TOLERANCE
    if (wanted == steady == current and window and window[0][1] <= steady
            and (not burst or burst[0][1] <= wanted)
            and settings.min_replicas <= current <= settings.max_replicas):
        # Nothing to change and nothing higher remembered (the common case): every rail
        # below keeps `current`, and each window remembers only this recommendation.
        latest = ((at_s, steady),)
        return current, reason, (latest, latest if burst else burst)
    if not window:
        # Nothing remembered yet (a fresh start): the running size counts as a recommendation,
        # so a restart never drops capacity before a whole window has been seen.
        window = ((at_s, current),)
    # (remember's first case, the common one, without the call: nothing higher remembered)
    window = (((at_s, steady),) if window[0][1] <= steady
              else remember(window, at_s, steady, settings.scale_down_window_s))
    if burst or wanted > steady:   # no burst now or lately: nothing the steady window lacks
        burst = (((at_s, wanted),) if not burst or burst[0][1] <= wanted
                 else remember(burst, at_s, wanted, settings.burst_hold_s))
    # Each rail binds in one direction only: skip the ones that cannot change anything.
    if wanted < current:
        if current <= settings.min_replicas:
            return current, _MIN_REPLICAS, (window, burst)
        limited = limit_scale_down(current, stabilise(current, wanted, window, burst),
                                   settings.scale_down_share)
        if limited > wanted:
            reason = _STABILISATION
    elif wanted > current:
        limited = limit_scale_up(current, wanted, settings.scale_up_factor,
                                 settings.scale_up_pods)
        if limited < wanted:
            reason = _STEP_LIMIT
    else:
        limited = wanted
    if settings.min_replicas <= limited <= settings.max_replicas:
        return limited, reason, (window, burst)   # within bounds (nearly always): no clamp
    bounded = settings.bounds.clamp(limited)
    reason = _MIN_REPLICAS if bounded > limited else _MAX_REPLICAS
    return bounded, reason, (window, burst)


def push_refuted(state: PolicyState, need: Need, at_s: float, rate: float,
                 settings: PolicySettings) -> bool:
    """True at a scraped decision within two periods after a push lapsed (push_memory_s; one
    reading may be missing), when the pods it asked for serve, the rate measured since is
    falling and asks for fewer pods: the crowd the push extrapolated did not come. Only just
    after the push, so a rise that merely pauses between two pushes keeps its pods."""
    since_push = at_s - state.pushed_at_s
    lapsed_s = settings.push_memory_s
    return (state.pushed_rate is not None
            and lapsed_s < since_push <= lapsed_s + 2 * settings.period_s
            and at_s >= state.web_ready_at_s and need.now < state.web_replicas
            and state.last_rate is not None and rate < state.last_rate)


def hold(current: int, planned: int, planned_reason: Reason,
         settings: PolicySettings) -> tuple[int, Reason]:
    """The deciding signal is missing or stale: keep the last decision, only ever raised by
    what was planned (an announced event, the forecast), never lowered: quiet metrics must
    never look like quiet traffic. The one hold of the scaler; the controller adds none."""
    if planned >= current:   # the plan is what keeps the count: say so
        return settings.bounds.clamp(limit_scale_up(current, planned, settings.scale_up_factor,
                                                    settings.scale_up_pods)), planned_reason
    return settings.bounds.clamp(current), _STALE_SIGNALS


class PeakshopPolicy:
    """The scaling decision for web and workers; `decide` has no side effects.

    It listens for pushes (`Observation.pushed`: requests queue up in the listen backlog
    now), and while new pods start it asks running pods for in-pod capacity (`size`) when
    the platform allows it (`max_pod_size` > 1).
    """

    listens_for_push = True

    def __init__(self, settings: PolicySettings | None = None,
                 events: EventSchedule | None = None,
                 forecaster: Forecaster | None = None) -> None:
        self.settings = settings or PolicySettings()
        self.events = events or EventSchedule()
        self.forecaster = forecaster
        self.period_s = self.settings.period_s
        self._crowds = crowd_timeline(self.events, self.settings)
        # (from_s, until_s, crowd, crowd_rps) of the last step read: a memo, not a state
        self._crowd_span: tuple[float, float, float, float] = (math.inf, -math.inf, 0.0, 0.0)
        # The settings every decision reads, and the products it divides by, in the order
        # `decide` unpacks them (the settings are frozen: read once here).
        settings = self.settings
        self._hot = (settings.season_origin_s, settings.stale_after_s,
                     settings.worker_orders_per_s * settings.forecast_target,
                     settings.push_memory_s, settings.max_pod_size, settings.pod_slo_rps,
                     settings.worker_orders_per_s * settings.worker_target)
        # What the outlook in use plans, worked out once per outlook: a memo, not a state
        self._planned = self._plans_of(None)

    def initial_state(self, web_replicas: int, worker_replicas: int) -> PolicyState:
        """The state before the first decision: the Deployments' current sizes."""
        return PolicyState(web_replicas, worker_replicas)

    def _plans_of(self, outlook: Outlook | None) -> tuple:
        """(outlook, from_s, until_s, expected rate, web pods for it, the rise to keep
        standby for or None): what one outlook plans for every decision it serves."""
        if outlook is None:   # (never served: asked again each time, as there is none)
            return (None, math.inf, -math.inf, None, 0, None)
        settings = self.settings
        expected, rise = outlook.rate, outlook.rise
        # forecast_plans' web pods, inlined (the workers' depend on the orders share now)
        web_plan = (0 if expected is None else
                    math.ceil(expected / (settings.pod_slo_rps * settings.forecast_target)
                              - _CEIL_SLACK))
        # (A rise within the reactive target's margin asks for no more than the rate does.)
        if (rise is None or not rise * settings.web_target > 0.999
                or not settings.standby_rise_cap > 1.0):
            rise = None
        return (outlook, outlook.minute * 60, outlook.until_minute * 60, expected, web_plan,
                rise)

    def _outlook(self, season_s: float, cached: Outlook | None) -> Outlook | None:
        """The forecast, made afresh only when the cached one has run out."""
        if cached is not None and cached.minute * 60 <= season_s < cached.until_minute * 60:
            return cached
        if self.forecaster is None:
            return None
        ahead_s = self.settings.startup_s + self.settings.forecast_margin_s
        return self.forecaster.outlook(season_s, ahead_s)

    def event_plans(self, state: PolicyState) -> list[tuple[Event, int, float]]:
        """(event, web replicas at its start, ready by) for each event the shop announced
        (it has an id), on the season clock, from what the policy knows now; pure."""
        settings = self.settings
        outlook = state.outlook
        calm = state.calm_rate or 0.0
        peak = (outlook.evening_peak if outlook is not None else None) or calm
        base = max(calm, (outlook.rate if outlook is not None else None) or 0.0)
        plans = []
        for event in self.events.events:
            if event.id is None:
                continue
            crowd = self._crowds.at(event.start_s)
            crowd_rps = self._crowds.rps_at(event.start_s)
            replicas = settings.bounds.clamp(scheduled_web(crowd, peak, base, settings,
                                                           crowd_rps))
            plans.append((event, replicas, event.start_s - settings.event_lead_s))
        return plans

    def decide(self, observation: Observation,
               state: PolicyState) -> tuple[ScalingDecision, PolicyState]:
        """Replicas for web and workers from one observation; pure, no side effects."""
        settings = self.settings
        # (Both values unpacked at once, and the settings' products read from one tuple: a
        # season's replay decides half a million times, and each attribute read costs.)
        (at_s, rate, _, _, _, backlog, _, orders, _, _, workers_ready, _, age_s,
         pushed) = observation
        (web_replicas, worker_replicas, web_window, worker_window, last_rate, calm_rate,
         calm_orders, orders_share, outlook, pushed_rate, pushed_at_s, sizes,
         web_ready_at_s, push_confirmed) = state
        (season_origin_s, stale_after_s, worker_forecast_orders, push_memory_s, max_pod_size,
         pod_slo_rps, worker_steady_orders) = self._hot
        season_s = at_s - season_origin_s
        if age_s > stale_after_s:
            rate = orders = None

        planned = self._planned   # what the outlook in use plans, while it serves
        if planned[0] is not outlook or not planned[1] <= season_s < planned[2]:
            if (outlook is None
                    or not outlook.minute * 60 <= season_s < outlook.until_minute * 60):
                outlook = self._outlook(season_s, outlook)
            planned = self._planned = self._plans_of(outlook)
        expected, web_forecast_plan, standby_rise = planned[3], planned[4], planned[5]
        if rate and orders is not None:
            orders_share = orders / rate

        # Announced events: the crowd is sized on the day's evening peak, read from the past.
        if self.events.events:
            span = self._crowd_span    # the timeline's step, searched again once it is over
            if not span[0] <= season_s < span[1]:
                span = self._crowd_span = self._crowds.span_at(season_s)
            crowd, crowd_rps = span[2], span[3]
            under_way = bool(crowd or crowd_rps)
        else:
            crowd = crowd_rps = 0.0
            under_way = False
        if rate is not None and not pushed and (not under_way or calm_rate is None):
            # No event under way (or none seen before one): today's level without a crowd.
            calm_rate, calm_orders = rate, orders or 0.0
        web_plan, web_plan_reason = 0, _FORECAST
        worker_plan, worker_plan_reason = 0, _FORECAST
        if expected is not None:
            # forecast_plans, inlined: asked every decision (the web's, once per outlook)
            web_plan = web_forecast_plan
            worker_plan = math.ceil(expected * orders_share / worker_forecast_orders
                                    - _CEIL_SLACK)
        # Standby for a rise seen at this time before, on the scraped rate (a push's rate is
        # the rise itself, caught: growing it again would count it twice).
        if standby_rise is not None and rate and not pushed:
            standby = standby_web(rate, standby_rise, settings)
            if standby > web_plan:
                web_plan, web_plan_reason = standby, _STANDBY
        if under_way:
            peak = (outlook.evening_peak if outlook is not None else None) or calm_rate or 0.0
            base = max(calm_rate or 0.0, expected or 0.0)
            web_event = scheduled_web(crowd, peak, base, settings, crowd_rps)
            if web_event > web_plan:
                web_plan, web_plan_reason = web_event, _SCHEDULED_EVENT
            worker_event = scheduled_workers(crowd, peak, calm_orders, orders_share, settings,
                                             crowd_rps)
            if worker_event > worker_plan:
                worker_plan, worker_plan_reason = worker_event, _SCHEDULED_EVENT

        # A push tells the arrival rate now; scraped rates lag it by up to scrape + window.
        recent_push = None
        if pushed and rate is not None:
            # Still arriving: the crowd grows on while a resize lands; extrapolate from the
            # last push, or from the last scrape (taken about scrape + window/2 ago).
            if pushed_rate is not None and at_s - pushed_at_s <= push_memory_s:
                before, ago = pushed_rate, max(at_s - pushed_at_s, 1.0)
                # Pushed again past what the last push planned for: the rise goes on.
                push_confirmed = push_confirmed or rate > pushed_rate
            else:
                before, ago = last_rate or rate, settings.scrape_lag_s
                push_confirmed = not (settings.resize_first and max_pod_size > 1.0)
            growth = max(rate - before, 0.0) / ago
            # A crowd that jumped within seconds is not extrapolated linearly: what grows
            # beyond push_growth_cap is caught by the next push and an in-pod resize.
            pushed_rate, pushed_at_s = min(rate + growth * settings.push_horizon_s,
                                           rate * settings.push_growth_cap), at_s
        if pushed_rate is not None and at_s - pushed_at_s <= (
                push_memory_s if push_confirmed else settings.unconfirmed_push_memory_s):
            recent_push = pushed_rate

        web_size, workers_size = sizes   # a hold keeps the size too
        if rate is None:
            web, web_reason = hold(web_replicas, web_plan, web_plan_reason, settings)
        else:
            # An announced crowd explains its own growth: the plan covers it, not a surge; a
            # push gives the rate as it is now, which needs no extrapolation.
            seen, load, surge_within = observation, rate, None
            if recent_push is not None and recent_push * settings.push_margin > rate:
                # A pushed rate is live: what it asks for now, with a margin for growth.
                load = recent_push * settings.push_margin
                if max_pod_size > 1.0 and settings.resize_first:
                    # (the push says the rate now: a burst goes no further than it, where a
                    # first push resizes and so leaves the scrape to ask for pods)
                    surge_within = load
                if push_confirmed or load > observation[8] * pod_slo_rps * max_pod_size:
                    # (observation._replace(request_rate=load), without its slow generic path)
                    seen = _tuple_new(Observation, (at_s, load, *observation[2:]))
                elif pushed:
                    # The first push of a rise that running pods can carry: a resize, which
                    # lands in seconds and is given back as fast; pods once it is pushed
                    # again or the scraped rate shows it (docs/simulation.md). The pods see
                    # the last scrape (a push's "p95 over the SLO" would ask for a step).
                    seen = _tuple_new(Observation, (
                        at_s, rate if last_rate is None else last_rate, observation[2], None,
                        *observation[4:]))
            need = reactive_web(seen, web_replicas, last_rate, settings,
                                expect_surges=not under_way and seen is observation)
            if surge_within is not None and need.now > need.steady:
                # While a push counts, a burst (the scrape's surge extrapolated up to 4x, a
                # push's p95 step) asks for pods up to what the push says arrives now: a
                # reading lost after a flash sale's push kept 8 pods where 3 carry its peak.
                within = max(need.steady, replicas_for(surge_within, pod_slo_rps
                                                       * settings.web_target))
                if need.now > within:
                    need = _tuple_new(Need, (need.steady, within, need.reason,
                                             need.usage_ratio))
            if web_plan > need.steady:
                need = with_plan(need, web_plan, web_plan_reason)
            # (A push lapsed two periods ago at most: rare, so checked in that order.)
            if (recent_push is None and pushed_rate is not None
                    and at_s - pushed_at_s <= push_memory_s + 2 * settings.period_s
                    and settings.release_after_push
                    and push_refuted(state, need, at_s, rate, settings)):
                # The push's pods serve and the measured rate falls: what was asked for its
                # extrapolation goes at once, not a share per period after a whole window.
                web, web_reason = settings.bounds.clamp(need.now), _REQUEST_RATE
                web_window = (((at_s, need.steady),), ())
            else:
                web, web_reason, web_window = guard(web_replicas, need, at_s, web_window,
                                                    settings)
            if web > web_replicas:
                web_ready_at_s = at_s + settings.startup_s
            if max_pod_size > 1.0:
                # Until the pods asked for are ready, the running ones carry what goes beyond
                # their SLO capacity now (a size costs on every pod: only what is missing).
                # Readings of the ready count lag; pods asked for start within startup_s.
                # (Nearly always the ready pods carry the load: then no call is made.)
                ready = web if at_s >= web_ready_at_s else observation[8]   # web_ready
                web_size = (1.0 if load <= ready * pod_slo_rps else
                            in_pod_size_for(load, pod_slo_rps, ready, max_pod_size))
            if pushed and web_reason is not _SCHEDULED_EVENT:
                web_reason = _PUSHED_BACKLOG

        if orders is None or backlog is None:
            workers, worker_reason = hold(worker_replicas, worker_plan, worker_plan_reason,
                                          settings)
        else:
            if backlog:
                need = reactive_workers(observation, settings)
            else:   # nothing waiting (nearly always): reactive_workers' first case, inlined
                steady = math.ceil(orders / worker_steady_orders - _CEIL_SLACK)
                need = _tuple_new(Need, (steady, steady, _REQUEST_RATE, None))
            if worker_plan > need[0]:
                need = with_plan(need, worker_plan, worker_plan_reason)
            workers, worker_reason, worker_window = guard(
                worker_replicas, need, at_s, worker_window, settings)
            if max_pod_size > 1.0:
                per_worker = settings.worker_orders_per_s
                orders_load = orders + backlog / settings.queue_drain_s
                workers_size = (1.0 if orders_load <= workers_ready * per_worker else
                                in_pod_size_for(orders_load, per_worker, workers_ready,
                                                max_pod_size))

        # After a gap in the signals the first reading has nothing recent to be compared with.
        # (Built as the tuple it is, every field in order: the generated __new__ is slower.)
        new_state = _tuple_new(PolicyState, (
            web, workers, web_window, worker_window, last_rate if pushed else rate,
            calm_rate, calm_orders, orders_share, outlook, pushed_rate, pushed_at_s,
            (web_size, workers_size), web_ready_at_s, push_confirmed))
        if web_size == workers_size == 1.0:
            return scaling_decision(web, web_reason, workers, worker_reason), new_state
        return ScalingDecision(decision(web, web_reason, web_size),
                               decision(workers, worker_reason, workers_size)), new_state
