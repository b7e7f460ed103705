"""The `peakshop` policy as tables: observations (and state) in, replicas and reason out."""

from __future__ import annotations

import dataclasses

import pytest

from scaler.events import Event, EventSchedule
from scaler.forecast import Forecaster
from scaler.model import Observation, Reason
from scaler.policy import PeakshopPolicy, PolicySettings, PolicyState
from scaler.rate_history import DAY_MIN, RateHistory

# Easy arithmetic: a pod serves 32 rps within SLO and is planned at half of that (16 rps).
SETTINGS = PolicySettings(
    pod_max_rps=40.0, slo_utilization=0.8, worker_orders_per_s=5.0, startup_s=45.0,
    min_replicas=2, max_replicas=200, period_s=15, web_target=0.5, worker_target=1.0,
    tolerance=0.1, tolerance_up=0.0, scale_up_factor=2.0, scale_up_pods=4,
    scale_down_window_s=0.0, scale_down_share=1.0, surge_growth=1.5, surge_horizon_s=30.0,
    surge_cap=3.0, latency_boost=2.0, queue_drain_s=10.0, stale_after_s=60.0,
    forecast_margin_s=60.0, forecast_target=0.5, event_lead_s=60.0, event_hold_s=120.0,
    event_margin=1.0, event_target=0.5,
    push_margin=1.1, resize_first=False,
)


def observe(at_s: float = 1000.0, rate: float | None = 32.0, within_slo: bool | None = True,
            orders: float | None = 0.0, backlog: int | None = 0, age: float | None = 0.0,
            web_ready: int = 2, workers_ready: int = 2, age_s: float = 15.0) -> Observation:
    return Observation(at_s=at_s, request_rate=rate, latency_p95_s=None,
                       latency_within_slo=within_slo, cpu_utilization=None,
                       queue_backlog=backlog, queue_oldest_age_s=age, orders_rate=orders,
                       web_ready=web_ready, web_requested=web_ready,
                       workers_ready=workers_ready, workers_requested=workers_ready,
                       age_s=age_s)


def decide(observation: Observation, state: PolicyState, policy: PeakshopPolicy | None = None,
           **overrides):
    policy = policy or PeakshopPolicy(dataclasses.replace(SETTINGS, **overrides))
    return policy.decide(observation, state)


@pytest.mark.parametrize(("current", "rate", "overrides", "replicas", "reason"), [
    (4, 64.0, {}, 4, Reason.REQUEST_RATE),              # 64 / 16 = 4 pods: on target
    (4, 70.0, {}, 5, Reason.REQUEST_RATE),              # above target: up at once
    (20, 290.0, {}, 20, Reason.WITHIN_TOLERANCE),       # 19 would do, but usage is 0.906
    (20, 280.0, {}, 18, Reason.REQUEST_RATE),           # usage 0.875: outside the band
    (2, 1000.0, {}, 6, Reason.STEP_LIMIT),              # max(2 x 2, 2 + 4)
    (2, 1000.0, {"scale_up_factor": 10.0}, 20, Reason.STEP_LIMIT),
    (4, 100.0, {"max_replicas": 5}, 5, Reason.MAX_REPLICAS),
    (3, 0.0, {}, 2, Reason.MIN_REPLICAS),
    (3, 0.0, {"min_replicas": 1}, 1, Reason.MIN_REPLICAS),
])
def test_reactive_web_with_tolerance_step_limit_and_bounds(current, rate, overrides, replicas,
                                                            reason):
    decision, state = decide(observe(rate=rate), PolicyState(current, 2), **overrides)
    assert (decision.web.replicas, decision.web.reason) == (replicas, reason)
    assert state.web_replicas == replicas


@pytest.mark.parametrize(("within_slo", "web_ready", "replicas", "reason"), [
    (True, 4, 4, Reason.REQUEST_RATE),
    (None, 4, 4, Reason.REQUEST_RATE),   # no latency reading: the rate decides
    (False, 4, 16, Reason.LATENCY),      # 4 ready pods overloaded: 4 * 32 * 2 / 16
])
def test_latency_over_slo_asks_for_a_clear_step(within_slo, web_ready, replicas, reason):
    decision, _ = decide(observe(rate=64.0, within_slo=within_slo, web_ready=web_ready),
                         PolicyState(4, 2), scale_up_factor=4.0)
    assert (decision.web.replicas, decision.web.reason) == (replicas, reason)


@pytest.mark.parametrize(("last_rate", "rate", "replicas"), [
    (None, 80.0, 5),     # nothing to compare with
    (70.0, 80.0, 5),     # growth 1.14: noise, not a crowd
    (40.0, 80.0, 15),    # doubled in a period: 80 * min(2 ** 2, 3) = 240 rps
    (20.0, 80.0, 15),    # the extrapolation is capped at 3x
])
def test_a_surge_is_extrapolated_past_the_startup_delay(last_rate, rate, replicas):
    state = PolicyState(5, 2, last_rate=last_rate)
    decision, _ = decide(observe(rate=rate), state, scale_up_factor=4.0)
    assert decision.web.replicas == replicas


def test_a_burst_is_held_for_burst_hold_s_not_for_the_whole_window():
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_up_factor=4.0,
                                                scale_down_window_s=60.0, burst_hold_s=30.0,
                                                scale_down_share=0.5))
    state = PolicyState(5, 2, last_rate=40.0)
    seen = []
    for at_s, rate in [(0, 80.0), (15, 84.0), (30, 84.0)]:     # doubled, then growth is over
        decision, state = policy.decide(observe(at_s=at_s, rate=rate), state)
        seen.append((decision.web.replicas, decision.web.reason))
    # 80 * min(2 ** 2, 3) / 16 = 15 pods; held 30 s; then 84 / 16 -> 6, but half may go at once
    assert seen == [(15, Reason.REQUEST_RATE), (15, Reason.STABILISATION),
                    (8, Reason.STABILISATION)]


def test_no_surge_is_extrapolated_while_an_announced_crowd_arrives():
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_up_factor=10.0),
                            events=EventSchedule([EVENT]))
    state = PolicyState(6, 2, last_rate=40.0, calm_rate=32.0)
    decision, _ = policy.decide(observe(at_s=1005.0, rate=80.0), state)
    # 80 rps after 40: a surge anywhere else (15 pods); here the plan for the event stands
    assert (decision.web.replicas, decision.web.reason) == (6, Reason.SCHEDULED_EVENT)


def test_scale_down_waits_for_the_window_then_goes_step_by_step():
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_down_window_s=60.0,
                                                scale_down_share=0.5))
    state = policy.initial_state(10, 2)
    seen = []
    for at_s, rate in [(0, 160.0), (15, 32.0), (30, 32.0), (45, 32.0), (60, 32.0), (75, 32.0),
                       (90, 32.0), (105, 32.0)]:
        decision, state = policy.decide(observe(at_s=at_s, rate=rate), state)
        seen.append((decision.web.replicas, decision.web.reason))
    assert seen == [
        (10, Reason.REQUEST_RATE),
        (10, Reason.STABILISATION), (10, Reason.STABILISATION), (10, Reason.STABILISATION),
        (5, Reason.STABILISATION),   # the 10 left the window; at most half may go at once
        (3, Reason.STABILISATION),
        (2, Reason.REQUEST_RATE),
        (2, Reason.REQUEST_RATE),
    ]


def test_a_fresh_start_holds_the_running_size_for_a_window():
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_down_window_s=60.0))
    decision, _ = policy.decide(observe(at_s=0, rate=10.0), policy.initial_state(8, 2))
    assert (decision.web.replicas, decision.web.reason) == (8, Reason.STABILISATION)


EVENT = Event(start_s=1000.0, name="launch", extra_peaks=2.0, duration_s=600.0)


@pytest.mark.parametrize(("at_s", "replicas", "reason"), [
    (880.0, 2, Reason.REQUEST_RATE),        # before start - startup_s - event_lead_s
    (895.0, 6, Reason.SCHEDULED_EVENT),     # 32 rps calm + 2 peaks of 32 rps = 96 rps
    (1000.0, 6, Reason.SCHEDULED_EVENT),
    (1119.0, 6, Reason.SCHEDULED_EVENT),    # held event_hold_s after the start
    (1120.0, 2, Reason.REQUEST_RATE),       # then the live signals take over
])
def test_announced_events_are_ready_before_they_start(at_s, replicas, reason):
    policy = PeakshopPolicy(SETTINGS, events=EventSchedule([EVENT]))
    decision, _ = policy.decide(observe(at_s=at_s, rate=32.0), PolicyState(2, 2))
    assert (decision.web.replicas, decision.web.reason) == (replicas, reason)


def test_an_event_brings_workers_for_the_orders_its_crowd_places():
    policy = PeakshopPolicy(SETTINGS, events=EventSchedule([EVENT]))
    # 0.1 orders per request: 3.2 calm + 2 * 32 * 0.1 = 9.6 orders/s at 2.5 per worker
    decision, _ = policy.decide(observe(at_s=950.0, rate=32.0, orders=3.2), PolicyState(2, 2))
    assert (decision.workers.replicas, decision.workers.reason) == (4, Reason.SCHEDULED_EVENT)


def test_the_crowd_is_sized_on_the_calm_rate_not_on_the_crowd_itself():
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, surge_growth=10.0),
                            events=EventSchedule([EVENT]))
    state = PolicyState(2, 2)
    _, state = policy.decide(observe(at_s=800.0, rate=32.0), state)      # calm: remembered
    decision, _ = policy.decide(observe(at_s=1015.0, rate=80.0), state)  # the crowd arrives
    # 32 calm + 2 * 32 = 96 rps -> 6 pods; the 80 rps already seen need only 5
    assert (decision.web.replicas, decision.web.reason) == (6, Reason.SCHEDULED_EVENT)


@pytest.mark.parametrize(("observation", "replicas", "reason"), [
    (observe(age_s=120.0, rate=0.0), 8, Reason.STALE_SIGNALS),    # old reading: not trusted
    (observe(rate=None, orders=None), 8, Reason.STALE_SIGNALS),   # nothing read at all
    (observe(at_s=950.0, rate=None), 8, Reason.STALE_SIGNALS),    # the event needs only 6
    (observe(at_s=950.0, rate=None), 12, Reason.SCHEDULED_EVENT),
])
def test_stale_signals_hold_the_last_decision(observation, replicas, reason):
    event = EVENT if replicas != 12 else dataclasses.replace(EVENT, extra_peaks=5.0)
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_up_factor=4.0),
                            events=EventSchedule([event]))
    state = PolicyState(8, 5, calm_rate=32.0)
    decision, _ = policy.decide(observation, state)
    assert (decision.web.replicas, decision.web.reason) == (replicas, reason)


def test_quiet_metrics_never_drop_to_the_minimum():
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_down_window_s=60.0))
    state = PolicyState(8, 5)
    for at_s in range(0, 900, 15):
        decision, state = policy.decide(observe(at_s=at_s, rate=None, orders=None, backlog=None,
                                                age=None), state)
    assert (decision.web.replicas, decision.workers.replicas) == (8, 5)
    assert decision.workers.reason is Reason.STALE_SIGNALS


@pytest.mark.parametrize(("orders", "backlog", "age", "replicas", "reason"), [
    (10.0, 0, 0.0, 2, Reason.REQUEST_RATE),        # 10 orders/s at 5 per worker
    (20.0, 0, 0.0, 4, Reason.REQUEST_RATE),
    (10.0, 100, 10.0, 4, Reason.QUEUE_BACKLOG),    # + 100 orders drained in 10 s
    (10.0, 100, 40.0, 4, Reason.QUEUE_AGE),        # the oldest order is past half the SLO
    (10.0, 100, 55.0, 6, Reason.QUEUE_AGE),        # 5 s left: drain 100 orders in 5 s
])
def test_workers_follow_orders_and_drain_the_backlog(orders, backlog, age, replicas, reason):
    decision, _ = decide(observe(orders=orders, backlog=backlog, age=age), PolicyState(2, 2))
    assert (decision.workers.replicas, decision.workers.reason) == (replicas, reason)


def test_the_forecast_prepares_for_what_yesterday_brought():
    history = RateHistory()
    rush_minute = DAY_MIN + 600
    for minute in range(rush_minute - 2):
        history.add(minute, 320.0 if 601 <= minute < 640 else 32.0, 0.0)
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, scale_up_factor=10.0),
                            forecaster=Forecaster(history))
    now_s = (rush_minute - 2) * 60.0
    decision, state = policy.decide(observe(at_s=now_s, rate=32.0), PolicyState(2, 2))
    # yesterday's rise to 320 rps at minute 601 is within the horizon: 320 / 16 = 20 pods
    assert (decision.web.replicas, decision.web.reason) == (20, Reason.FORECAST)
    assert state.outlook is not None and state.outlook.rate == pytest.approx(320.0)


def test_decide_has_no_side_effects():
    policy = PeakshopPolicy(SETTINGS, events=EventSchedule([EVENT]))
    state = PolicyState(3, 2, last_rate=40.0)
    observation = observe(at_s=950.0, rate=90.0, orders=2.0, backlog=7, age=3.0)
    first = policy.decide(observation, state)
    second = policy.decide(observation, state)
    assert first == second
    assert state == PolicyState(3, 2, last_rate=40.0)


def test_a_live_clock_is_mapped_onto_the_season_clock():
    season_start = 1_727_740_800.0      # 1 October 2024, 00:00 UTC, in epoch seconds
    settings = dataclasses.replace(SETTINGS, season_origin_s=season_start)
    policy = PeakshopPolicy(settings, events=EventSchedule([EVENT]))
    decision, _ = policy.decide(observe(at_s=season_start + 895.0, rate=32.0), PolicyState(2, 2))
    assert (decision.web.replicas, decision.web.reason) == (6, Reason.SCHEDULED_EVENT)
    history = RateHistory(origin_s=season_start)
    history.record(observe(at_s=season_start + 135.0, rate=32.0))
    assert history.request_rate(2) == pytest.approx(32.0)


@pytest.mark.parametrize(("levers", "window_s", "margin", "max_size"), [
    (True, 60.0, 1.0, 2.0),      # pushes and in-place resize catch a rise: hold less
    (False, 120.0, 1.25, 1.0),   # the live platform today: hold longer, plan with a margin
])
def test_settings_follow_the_platforms_levers(levers, window_s, margin, max_size):
    from scaler.capacity import Bounds, Capacity

    settings = PolicySettings.for_capacity(Capacity(), Bounds(), levers=levers,
                                           **({"max_pod_size": 2.0} if levers else {}))
    assert (settings.scale_down_window_s, settings.event_margin, settings.max_pod_size) == (
        window_s, margin, max_size)


@pytest.mark.parametrize(("cap", "replicas", "reason"), [
    (2.0, 3, Reason.STANDBY),        # 50 rps x 1.5 = 75 rps within the SLO (32 a pod): 3
    (1.4, 3, Reason.STANDBY),        # capped: 50 x 1.4 = 70 rps, still 3
    (1.0, 2, Reason.REQUEST_RATE),   # no standby: 50 rps at 0.9 of 32 a pod is 2 pods
])
def test_standby_for_a_rise_seen_at_this_time_yesterday(cap, replicas, reason):
    history = RateHistory()
    for minute in range(DAY_MIN + 536):   # yesterday 50 rps, and 75 for the minute of 9:00
        history.add(minute, 75.0 if minute % DAY_MIN == 540 else 50.0, 0.0)
    policy = PeakshopPolicy(dataclasses.replace(SETTINGS, web_target=0.9, forecast_target=1.0,
                                                standby_rise_cap=cap),
                            forecaster=Forecaster(history))
    now_s = (DAY_MIN + 536) * 60.0
    decision, state = policy.decide(observe(at_s=now_s, rate=50.0), PolicyState(2, 2))
    assert (decision.web.replicas, decision.web.reason) == (replicas, reason)
    # the forecast's 5-minute level dilutes a one-minute crowd (55 rps: 2 pods); the rise does not
    assert state.outlook.rate == pytest.approx(55.0)
    assert state.outlook.rise == pytest.approx(1.5)
    # a push carries the rise itself: it is not grown again
    pushed = observe(at_s=now_s + 5, rate=50.0)._replace(pushed=True)
    assert policy.decide(pushed, PolicyState(2, 2))[0].web.reason is not Reason.STANDBY


@pytest.mark.parametrize(("last_rate", "cap", "pushed_rate", "replicas"), [
    # 10 -> 72 rps in one scrape: linear growth would plan for 154.7 rps (11 pods at 16)
    (10.0, 100.0, 72.0 + 62.0 / 30.0 * 40.0, 11),
    (10.0, 1.4, 72.0 * 1.4, 7),          # a jump is planned at most 1.4x on: 110.9 rps, 7
    (60.0, 1.4, 72.0 + 12.0 / 30.0 * 40.0, 7),   # a slow rise is extrapolated as before: 88
])
def test_a_pushed_jump_is_extrapolated_at_most_push_growth_cap_further(last_rate, cap,
                                                                       pushed_rate, replicas):
    pushed = observe(rate=72.0, within_slo=False)._replace(pushed=True, age_s=0.0)
    state = PolicyState(2, 2, last_rate=last_rate)
    decision, after = decide(pushed, state, push_growth_cap=cap, scale_up_factor=10.0)
    assert after.pushed_rate == pytest.approx(pushed_rate)
    assert decision.web.replicas == replicas   # pushed rate x push_margin 1.1, 16 rps a pod


@pytest.mark.parametrize(("since_push_s", "ready_in_s", "last_rate", "release", "replicas",
                          "reason"), [
    (53, -8, 72.0, True, 5, Reason.REQUEST_RATE),   # lapsed, its pods serve, rate falls: 66/16
    (53, -8, 60.0, True, 6, Reason.STABILISATION),  # the rate still rises: the window holds
    (53, 10, 72.0, True, 6, Reason.STABILISATION),  # its pods do not serve yet
    (68, -8, 72.0, True, 5, Reason.REQUEST_RATE),   # a reading missed: the next one will do
    (80, -8, 72.0, True, 6, Reason.STABILISATION),  # only just after it lapsed (45 + 2 x 15 s)
    (53, -8, 72.0, False, 6, Reason.STABILISATION),
])
def test_the_pods_of_a_push_whose_crowd_did_not_come_go_at_once(since_push_s, ready_in_s,
                                                               last_rate, release, replicas,
                                                               reason):
    now_s = 1000.0
    asked = ((now_s - 53.0, 6),)     # what the push asked for, remembered by both windows
    state = PolicyState(6, 2, web_window=(asked, asked), last_rate=last_rate, pushed_rate=82.0,
                        pushed_at_s=now_s - since_push_s, web_ready_at_s=now_s + ready_in_s)
    decision, _ = decide(observe(at_s=now_s, rate=66.0, web_ready=6), state,
                         scale_down_window_s=60.0, scale_down_share=0.25, burst_hold_s=60.0,
                         release_after_push=release)
    assert (decision.web.replicas, decision.web.reason) == (replicas, reason)


def first_push(rate: float, at_s: float = 1000.0) -> Observation:
    """A push over 2 ready pods (64 rps of SLO capacity, 128 resized to 2x)."""
    return observe(at_s=at_s, rate=rate, within_slo=False)._replace(pushed=True, age_s=0.0)


@pytest.mark.parametrize(("resize_first", "rate", "replicas", "size"), [
    # 80 rps pushed (planned 88 with push_margin): the old rule asks for pods at once, 88/16
    (False, 80.0, 6, 1.5),
    # resize first: the running pods carry 88 (3 pods' worth, 1.5x) and no pod is asked for
    (True, 80.0, 2, 1.5),
    # beyond what a resize can carry (165 > 2 x 2 x 32): pods at once, and the largest size
    (True, 150.0, 11, 2.0),
])
def test_the_first_push_of_a_rise_resizes_running_pods_before_asking_for_pods(
        resize_first, rate, replicas, size):
    decision, state = decide(first_push(rate), PolicyState(2, 2, last_rate=30.0),
                             max_pod_size=2.0, push_growth_cap=1.0, scale_up_factor=10.0,
                             scale_up_pods=20, resize_first=resize_first)
    assert (decision.web.replicas, decision.web.size) == (replicas, size)
    assert decision.web.reason is Reason.PUSHED_BACKLOG
    assert state.push_confirmed is (not resize_first)


@pytest.mark.parametrize(("rate", "replicas", "size", "confirmed"), [
    (90.0, 7, 2.0, True),     # pushed again past the 80 rps planned: pods for 99 (7 at 16)
    (75.0, 2, 1.5, False),    # pushed again, below what the first push planned: noise
])
def test_pods_come_once_the_rise_is_pushed_again_past_what_the_first_push_planned(
        rate, replicas, size, confirmed):
    state = PolicyState(2, 2, last_rate=30.0, pushed_rate=80.0, pushed_at_s=990.0,
                        sizes=(1.5, 1.0), push_confirmed=False)
    decision, after = decide(first_push(rate), state, max_pod_size=2.0, push_growth_cap=1.0,
                             scale_up_factor=10.0, scale_up_pods=20, resize_first=True)
    assert (decision.web.replicas, decision.web.size) == (replicas, size)
    assert after.push_confirmed is confirmed


@pytest.mark.parametrize(("since_push_s", "memory_s", "size"), [
    (25.0, 30.0, 1.5),    # the first push's rate still counts: the resize stays
    (35.0, 30.0, 1.0),    # not pushed again: the resize is given back after the memory
    (35.0, 45.0, 1.5),    # ... which the setting says
])
def test_an_unconfirmed_push_gives_its_resize_back_after_its_own_memory(since_push_s,
                                                                        memory_s, size):
    now_s = 1000.0
    state = PolicyState(2, 2, last_rate=30.0, pushed_rate=80.0, pushed_at_s=now_s - since_push_s,
                        sizes=(1.5, 1.0), push_confirmed=False)
    decision, _ = decide(observe(at_s=now_s, rate=30.0), state, max_pod_size=2.0,
                         resize_first=True, unconfirmed_push_memory_s=memory_s)
    assert (decision.web.replicas, decision.web.size) == (2, size)


@pytest.mark.parametrize(("pushed_at_s", "replicas", "size"), [
    (990.0, 6, 1.5),    # the push says the rate now (80, planned 88): the surge up to 88/16
    (900.0, 8, 1.0),    # no push counts: 10 -> 40 rps is a surge, extrapolated 3x: 120/16
])
def test_a_scraped_surge_goes_no_further_than_a_push_says_the_rate_is_now(
        pushed_at_s, replicas, size):
    state = PolicyState(2, 2, last_rate=10.0, pushed_rate=80.0, pushed_at_s=pushed_at_s,
                        push_confirmed=False)
    decision, _ = decide(observe(at_s=1000.0, rate=40.0), state, max_pod_size=2.0,
                         resize_first=True, scale_up_factor=10.0, scale_up_pods=20)
    assert (decision.web.replicas, decision.web.size) == (replicas, size)
