"""Per-second arrival noise in the simulator, and the push judged by the one rule it shares
with the live scaler (`scaler.signals.push.judge_arrivals`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scaler.model import Observation
from scaler.signals.push import BacklogPush, Pressure, PushRule
from scaler.signals.readings import ReplicaCounts
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.engine import run_closed_loop
from scaler.simulate.noise import noisy_arrivals, per_block, trailing_mean
from scaler.simulate.trace import trace_from_rates
from tests.scaler.test_simulate_engine import PushRecorder

QUIET = {"signal_faults": 0.0, "outages_per_day": 0.0}


def steady(rate: float, minutes: int):
    return trace_from_rates(np.full(minutes, rate), np.zeros(minutes), step_s=60)


@pytest.mark.parametrize("dispersion", [1.0, 3.0])
def test_a_seconds_arrivals_vary_around_the_rate_with_the_variance_asked_for(dispersion):
    """An hour at 200/s: the mean stays the rate, the variance is dispersion x the mean
    (1: Poisson's), and the draws are whole seconds' worth, never negative."""
    arrivals = noisy_arrivals(steady(200.0, 60), dispersion, seed=3).astype(float)
    assert len(arrivals) == 3600
    assert arrivals.mean() == pytest.approx(200.0, rel=0.01)
    assert arrivals.var() == pytest.approx(dispersion * 200.0, rel=0.08)
    assert arrivals.min() >= 0.0


def test_the_noise_is_seeded_and_none_leaves_the_rate():
    trace = trace_from_rates(np.array([10.0, 500.0]), np.zeros(2), step_s=60)
    first, again = noisy_arrivals(trace, 1.0, seed=7), noisy_arrivals(trace, 1.0, seed=7)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, noisy_arrivals(trace, 1.0, seed=8))
    assert np.array_equal(noisy_arrivals(trace, 0.0, seed=7), np.repeat([10.0, 500.0], 60))
    assert noisy_arrivals(steady(1.0, 60), 4.0, seed=1).min() >= 0.0   # clipped at none


def test_the_trailing_mean_and_the_tick_figures_are_those_of_a_plain_loop():
    values = np.arange(30, dtype=np.float32) ** 1.5
    mean = trailing_mean(values, 3, before=2.0)
    padded = [2.0, 2.0, *values.tolist()]
    assert mean.tolist() == pytest.approx([sum(padded[t : t + 3]) / 3 for t in range(30)])
    assert trailing_mean(values, 1, before=0.0) is values
    means, highest, lowest = per_block(values, 15)
    assert means.tolist() == pytest.approx([values[:15].mean(), values[15:].mean()])
    assert (highest.tolist(), lowest.tolist()) == ([values[14], values[29]],
                                                   [values[0], values[15]])


def scraped_rates(cluster: ClusterSettings, trace) -> list[float]:
    seen: list[Observation] = []
    run_closed_loop(trace, cluster, PushRecorder(), on_observation=seen.append)
    return [observation.request_rate for observation in seen]


def test_scraped_rates_carry_the_noise_of_the_seconds_they_average():
    """Every policy reads the same noisy rate: the mean of the arrivals of its window
    (30 s at 200/s: a deviation of sqrt(200/30) ~ 2.6/s), not the trace's rate."""
    trace = steady(200.0, 60)
    plain = scraped_rates(ClusterSettings(**QUIET), trace)
    assert set(plain) == {200.0}
    noisy = scraped_rates(ClusterSettings(arrival_noise=1.0, **QUIET), trace)
    assert len(set(noisy)) > len(noisy) // 2
    assert np.std(noisy[4:]) == pytest.approx(math.sqrt(200.0 / 30), rel=0.25)
    arrivals = noisy_arrivals(trace, 1.0, seed=0).astype(float)
    # the decision at 300 s reads the window [255, 285) s: the scrape is 15 s old
    assert noisy[20] == pytest.approx(arrivals[255:285].mean(), rel=1e-6)


def pushes(cluster: ClusterSettings, trace) -> list[float]:
    policy = PushRecorder()
    run_closed_loop(trace, cluster, policy)
    return [observation.at_s for observation in policy.pushed]


# 10 pods, 320/s of SLO capacity: the policy sizes them for 0.9 of it (288/s).
TEN_PODS = {"min_replicas": 10, "max_pod_size": 1.0, "arrival_noise": 1.0, **QUIET}


@pytest.mark.parametrize(("rule", "most_an_hour"), [
    ({"push_at": 0.9, "push_noise_sd": 0.0}, None),        # the noiseless rule: noise pushes
    ({"push_at": 0.9, "push_noise_sd": 3.0, "push_mean_s": 2}, 2),
    ({"push_at": 0.95, "push_noise_sd": 2.0}, 2),
])
def test_a_steady_load_just_below_the_mark_is_not_heard_as_a_rise(rule, most_an_hour):
    """An hour at 0.87 of the SLO capacity (the pods' planned load): a mark with no margin
    is crossed by a second's noise over and over; a margin keeps it quiet."""
    heard = pushes(ClusterSettings(**TEN_PODS, **rule), steady(0.87 * 320, 60))
    if most_an_hour is None:
        assert len(heard) > 100
    else:
        assert len(heard) <= most_an_hour


@pytest.mark.parametrize("rule", [
    {"push_at": 0.9, "push_noise_sd": 3.0, "push_mean_s": 2},
    {"push_at": 0.95, "push_noise_sd": 2.0},
])
def test_a_sustained_rise_past_the_pods_is_heard_within_seconds(rule):
    """From 0.8 to 1.2 of the SLO capacity at minute 10: the push reaches the policy
    push_s (2 s) after the second the rule hears it, within the first few seconds."""
    trace = trace_from_rates(np.array([0.8 * 320] * 10 + [1.2 * 320] * 2), np.zeros(12))
    heard = [at for at in pushes(ClusterSettings(**TEN_PODS, **rule), trace) if at >= 600]
    assert heard and 602 <= heard[0] <= 606


@pytest.mark.parametrize(("rule", "rise"), [
    ({"push_at": 0.9, "push_noise_sd": 3.0, "push_mean_s": 2}, 1.1),
    ({"push_at": 0.92, "push_noise_sd": 1.75, "push_long_mean_s": 5,
      "push_long_noise_sd": 2.0}, 1.02),
])
def test_the_simulators_pods_push_by_the_live_rule_at_the_same_second(rule, rise):
    """The same noisy seconds, fed to the live scaler's BacklogPush as busy workers (one
    sample a second, 10 ready pods of 2 workers) and replayed by the simulator: the first
    push of the rise is heard at the same second (plus the push's delivery, push_s)."""
    cluster = ClusterSettings(**rule, **TEN_PODS)
    trace = trace_from_rates(np.array([0.85 * 320] * 10 + [rise * 320] * 2), np.zeros(12))
    simulated = [at for at in pushes(cluster, trace) if at >= 540]
    arrivals = noisy_arrivals(trace, cluster.arrival_noise, cluster.noise_seed).tolist()

    class Seconds:
        name = "seconds"
        second = 539

        def pressure(self) -> Pressure:
            self.second += 1
            return Pressure(0, arrivals[self.second] / (10 * 40.0))

    source = Seconds()
    live = BacklogPush(source, lambda: ReplicaCounts(10, 10, 1, 1), pod_max_rps=40.0,
                       push_at=cluster.push_at, noise_sd=cluster.push_noise_sd,
                       mean_of=cluster.push_mean_s, long_mean_of=cluster.push_long_mean_s,
                       long_noise_sd=cluster.push_long_noise_sd,
                       clock=lambda: float(source.second))
    last = Observation(at_s=0.0, request_rate=272.0, latency_p95_s=None,
                       latency_within_slo=True, cpu_utilization=0.7, queue_backlog=0,
                       queue_oldest_age_s=0.0, orders_rate=0.0, web_ready=10,
                       web_requested=10, workers_ready=1, workers_requested=1, age_s=15.0)
    heard_live = [source.second for _ in range(540, 720) if live.heard(last) is not None]
    assert heard_live and simulated
    assert simulated[0] == heard_live[0] + cluster.push_s


def test_noise_settings_are_checked_like_every_other_flag():
    with pytest.raises(ValueError, match="--arrival-noise"):
        ClusterSettings(arrival_noise=-1.0)
    with pytest.raises(ValueError, match="--push-mean-s"):
        ClusterSettings(push_mean_s=0)
    with pytest.raises(ValueError, match="--push-mean-s must be a whole number"):
        ClusterSettings(push_mean_s=1.5)
    with pytest.raises(ValueError, match="--noise-seed"):
        ClusterSettings(noise_seed=-3)


def test_the_threshold_is_the_mark_plus_the_deviations_of_a_mean_of_that_many_seconds():
    rule = PushRule(40.0, push_at=0.9, noise_sd=2.0, mean_of=4)
    assert rule.mark(10) == pytest.approx(288.0)
    assert rule.threshold(10) == pytest.approx(288.0 + 2.0 * math.sqrt(288.0 / 4))
    assert PushRule(40.0, push_at=0.9, noise_sd=0.0).threshold(10) == pytest.approx(288.0)
