"""The simulator's shortcuts decide exactly as the plain code they stand in for.

A season replays half a million decisions, so a few hot paths skip work: the guard's
unchanged case, the HPA step's common cases, push verdicts against limits worked out once per
capacity, the crowd timeline's step kept between decisions, the highest rise of a span of
final minutes kept, the engine's settled ticks and its cyclic collector kept off.
Each is checked here against the plain version over many cases; the whole replay is checked
field by field by `python -m benchmarks.simulate_identity` (docs/simulation.md, Speed).
"""

from __future__ import annotations

import gc
import itertools
import math
import random

import pytest

from scaler.capacity import Bounds, in_pod_size
from scaler.events import Event, EventSchedule
from scaler.forecast import Forecaster
from scaler.guardrails import (
    limit_scale_down,
    limit_scale_up,
    remember,
    stabilise,
    tolerance_band,
)
from scaler.model import Decision, Reason
from scaler.policy import PeakshopPolicy, PolicySettings
from scaler.policy.baselines import HpaBehaviour, HpaCpuPolicy, HpaTarget, hpa_step
from scaler.policy.peakshop import guard
from scaler.policy.sizing import Need
from scaler.rate_history import DAY_MIN, RateHistory
from scaler.signals.push import PushRule, judge_against, judge_arrivals
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.engine import run_closed_loop
from scaler.simulate.trace import trace_from_rates
from tests.scaler.test_forecast import observation

SETTINGS = PolicySettings()
_REACTIVE = {Reason.REQUEST_RATE, Reason.LATENCY, Reason.QUEUE_BACKLOG, Reason.QUEUE_AGE}


def plain_guard(current, need, at_s, windows, settings):
    """The guard rails applied one after the other, with no shortcut."""
    window, burst = windows
    if not window:
        window = ((at_s, current),)
    steady, wanted, reason, usage_ratio = need
    if (usage_ratio is not None and wanted == steady != current and reason in _REACTIVE
            and 1.0 - settings.tolerance <= usage_ratio <= 1.0 + settings.tolerance_up):
        steady = wanted = current
        reason = Reason.WITHIN_TOLERANCE
    window = remember(window, at_s, steady, settings.scale_down_window_s)
    if burst or wanted > steady:
        burst = remember(burst, at_s, wanted, settings.burst_hold_s)
    if wanted < current:
        if current <= settings.min_replicas:
            return current, Reason.MIN_REPLICAS, (window, burst)
        limited = limit_scale_down(current, stabilise(current, wanted, window, burst),
                                   settings.scale_down_share)
        if limited > wanted:
            reason = Reason.STABILISATION
    elif wanted > current:
        limited = limit_scale_up(current, wanted, settings.scale_up_factor,
                                 settings.scale_up_pods)
        if limited < wanted:
            reason = Reason.STEP_LIMIT
    else:
        limited = wanted
    bounded = settings.bounds.clamp(limited)
    if bounded != limited:
        reason = Reason.MIN_REPLICAS if bounded > limited else Reason.MAX_REPLICAS
    return bounded, reason, (window, burst)


def test_the_guard_decides_and_remembers_as_the_rails_applied_in_full():
    picks = random.Random(15)
    windows_seen = [(), ((100.0, 5),), ((90.0, 9), (100.0, 6)), ((40.0, 12),)]
    checked = 0
    for _ in range(4000):
        current = picks.choice([1, 2, 3, 5, 6, 8, 12, 199, 200, 250])
        steady = max(0, current + picks.choice([-3, -1, 0, 0, 0, 1, 4]))
        wanted = steady + picks.choice([0, 0, 0, 2])
        reason = picks.choice([Reason.REQUEST_RATE, Reason.FORECAST, Reason.LATENCY])
        ratio = picks.choice([None, 0.85, 0.95, 1.0, 1.05])
        need = Need(steady, wanted, reason, ratio)
        windows = (picks.choice(windows_seen), picks.choice(windows_seen))
        at_s = 120.0 + picks.choice([0.0, 15.0, 60.0])
        assert guard(current, need, at_s, windows, SETTINGS) == \
            plain_guard(current, need, at_s, windows, SETTINGS), (current, need, windows)
        checked += 1
    assert checked == 4000


@pytest.mark.parametrize("rule", [
    PushRule(40.0, 0.8, 0.92, noise_sd=1.75),
    PushRule(40.0, 0.8, 0.9, noise_sd=0.0),
    PushRule(40.0, 0.8, 0.92, noise_sd=2.0, mean_of=5, long_mean_of=30, long_noise_sd=2.0),
])
def test_a_verdict_against_limits_worked_out_once_is_the_live_rules(rule):
    capacities = [1.0, 2.0, 3.5, 10.0, 40.0]
    levels = [0.0, 20.0, 29.0, 30.0, 31.0, 35.0, 60.0, 120.0, 400.0]
    pushed_before = [None, 25.0, 30.0, 45.0, 300.0]
    longs = [None, 0.0, 29.5, 33.0, 90.0]
    verdicts = set()
    for capacity, arrivals, pushed, long in itertools.product(capacities, levels,
                                                              pushed_before, longs):
        plain = judge_arrivals(arrivals, capacity, rule, pushed, long)
        limits = (rule.mark(capacity), rule.threshold(capacity), rule.long_threshold(capacity))
        assert judge_against(arrivals, *limits, pushed, long) == \
            (plain.rate, plain.pushed_low), (capacity, arrivals, pushed, long)
        verdicts.add((plain.rate is None, plain.pushed_low is None))
    assert len(verdicts) >= 3     # pushes, quiet seconds and kept episodes were all judged


def test_the_crowd_step_kept_between_decisions_is_the_one_searched_for():
    events = EventSchedule([Event(600.0, "blast", 1.5, 1200.0),
                            Event(1500.0, "launch", 2.0, 600.0, extra_rps=50.0),
                            Event(9000.0, "late", 0.5, 300.0)])
    timeline = PeakshopPolicy(SETTINGS, events=events)._crowds
    moments = [-1e9, 0.0, *sorted({edge + delta for edge in timeline._edges
                                   for delta in (-0.5, 0.0, 0.5)}), 1e9]
    for at_s in moments:
        from_s, until_s, crowd, crowd_rps = timeline.span_at(at_s)
        assert from_s <= at_s < until_s
        assert (crowd, crowd_rps) == timeline.levels_at(at_s)
        # the whole step reads the same
        for inside in (from_s, (from_s + until_s) / 2 if math.isfinite(from_s + until_s)
                       else at_s):
            assert timeline.levels_at(inside) == (crowd, crowd_rps)
    assert EventSchedule().crowd_timeline(60.0, 60.0).span_at(5.0) == \
        (-math.inf, math.inf, 0.0, 0.0)


def test_a_policy_with_events_decides_as_one_that_searches_every_time():
    events = EventSchedule([Event(1800.0, "blast", 2.0, 900.0), Event(5400.0, "x", 1.0, 300.0)])
    kept, fresh_each_time = PeakshopPolicy(SETTINGS, events=events), None
    state_kept = kept.initial_state(4, 2)
    state_fresh = state_kept
    for step in range(0, 8000, 15):
        seen = observation(float(step), 40.0 + (step // 600) % 3 * 20.0, 2.0)
        fresh_each_time = PeakshopPolicy(SETTINGS, events=events)   # nothing kept
        decided, state_kept = kept.decide(seen, state_kept)
        expected, state_fresh = fresh_each_time.decide(seen, state_fresh)
        assert decided == expected and state_kept == state_fresh, step


def test_the_highest_rise_kept_for_final_minutes_follows_a_growing_history():
    """Asked as a replay asks (every few minutes while the history grows), the kept spans
    give what a forecaster that keeps nothing gives."""
    picks = random.Random(7)
    history = RateHistory()
    forecaster = Forecaster(history)
    rises_found = 0
    for minute in range(9 * DAY_MIN):
        surge = 3.0 if minute % DAY_MIN in (540, 541, 1000) else 1.0
        history.add(minute, (20.0 + picks.random()) * surge, None)
        if minute % 5 == 0 and minute > 10:
            # the coming minutes, and a span whose last minutes a day back are not final yet
            spans = [(minute + 1, minute + 6), (minute + DAY_MIN - 6, minute + DAY_MIN - 3)]
            kept = [forecaster.highest_rise(minute, *span) for span in spans]
            if minute % 55 == 0:    # (a forecaster afresh reads the whole history)
                plain = Forecaster(history)
                assert kept == [plain.highest_rise(minute, *span) for span in spans], minute
            rises_found += kept[0] is not None and kept[0] > 2.0
    assert rises_found > 0


def plain_hpa_step(target, wanted, usage_ratio, at_s, behaviour, reason, ready):
    """One HPA reconciliation, every rail called in turn (replica_calculator.go's order)."""
    current = target.replicas
    if wanted is None:
        held = behaviour.bounds.clamp(current)
        reason = Reason.STALE_SIGNALS if held == current else Reason.MIN_REPLICAS
        return Decision(held, reason, target.size), target._replace(replicas=held)
    desired = math.ceil(wanted - 1e-9)
    size = in_pod_size(wanted, ready, behaviour.max_pod_size)
    proposed = tolerance_band(current, desired, usage_ratio, behaviour.tolerance)
    if proposed == current and desired != current:
        reason = Reason.WITHIN_TOLERANCE
    recommendations = remember(target.recommendations, at_s, proposed,
                               behaviour.scale_down_window_s)
    stable = stabilise(current, proposed, recommendations)
    if stable > proposed:
        reason = Reason.STABILISATION
    limited = (limit_scale_up(current, stable, behaviour.scale_up_factor,
                              behaviour.scale_up_pods) if stable > current else stable)
    if limited < stable:
        reason = Reason.STEP_LIMIT
    bounded = behaviour.bounds.clamp(limited)
    if bounded > limited:
        reason = Reason.MIN_REPLICAS
    elif bounded < limited:
        reason = Reason.MAX_REPLICAS
    return Decision(bounded, reason, size), HpaTarget(bounded, recommendations, size)


@pytest.mark.parametrize("max_pod_size", [1.0, 2.0])
def test_the_hpa_step_decides_and_remembers_as_every_rail_called_in_turn(max_pod_size):
    picks = random.Random(5)
    behaviour = HpaBehaviour(Bounds(2, 40), max_pod_size=max_pod_size)
    windows = [(), ((100.0, 5),), ((90.0, 9), (100.0, 6)), ((-400.0, 30),), ((80.0, 41),)]
    reasons = set()
    for _ in range(5000):
        target = HpaTarget(picks.choice([0, 1, 2, 3, 5, 9, 20, 40, 45]), picks.choice(windows),
                           picks.choice([1.0, 1.5]))
        ready = picks.choice([0, 1, 3, 6, 20])
        ratio = picks.choice([0.0, 0.5, 0.9, 0.95, 1.0, 1.1, 1.2, 3.0, 10.0])
        wanted = picks.choice([None, ready * target.size * ratio, picks.uniform(0.0, 90.0)])
        at_s = picks.choice([120.0, 135.0, 400.0])
        step = hpa_step(target, wanted, ratio, at_s, behaviour, Reason.CPU_UTILIZATION, ready)
        plain = plain_hpa_step(target, wanted, ratio, at_s, behaviour, Reason.CPU_UTILIZATION,
                               ready)
        assert step == plain, (target, wanted, ratio, ready)
        reasons.add(step[0].reason)
    # every rail had its say somewhere
    assert {Reason.WITHIN_TOLERANCE, Reason.STABILISATION, Reason.STEP_LIMIT,
            Reason.MIN_REPLICAS, Reason.MAX_REPLICAS, Reason.STALE_SIGNALS,
            Reason.CPU_UTILIZATION} <= reasons


class _Failing:
    """A policy whose every decision fails: the replay stops half way."""

    period_s = 15

    def initial_state(self, web_replicas, worker_replicas):
        return None

    def decide(self, observation, state):
        raise RuntimeError("the policy failed")


def test_a_replay_leaves_the_cyclic_collector_as_it_found_it():
    trace = trace_from_rates([40.0, 80.0, 40.0], step_s=60)
    cluster = ClusterSettings()
    baseline = HpaCpuPolicy(cluster.capacity, cluster.bounds)
    assert gc.isenabled()
    run_closed_loop(trace, cluster, baseline)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="the policy failed"):
        run_closed_loop(trace, cluster, _Failing())
    assert gc.isenabled()         # on again after a failed replay too
    gc.disable()
    try:
        run_closed_loop(trace, cluster, baseline)
        assert not gc.isenabled()   # a caller who turned it off keeps it off
    finally:
        gc.enable()
