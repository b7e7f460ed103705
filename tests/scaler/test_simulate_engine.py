"""The fast closed-loop engine against a plain second-by-second model of the same rules.

The reference below walks every second and keeps every per-second series, exactly as
docs/simulation.md reads; the engine steps in ticks and must agree with it to the pod.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scaler.events import Event, EventSchedule
from scaler.forecast import Forecaster
from scaler.model import Observation
from scaler.policy import PeakshopPolicy
from scaler.policy.baselines import HpaCpuPolicy, KedaQueuePolicy
from scaler.rate_history import RateHistory
from scaler.simulate.cluster import ClusterSettings, web_demand
from scaler.simulate.engine import (
    BlockSeries,
    RequestedReplicas,
    run_closed_loop,
    settled_start,
    tick_for,
)
from scaler.simulate.faults import LATE, OUTAGE, QUEUE_MISSING, TRAFFIC_MISSING, plan_faults
from scaler.simulate.metrics import measure
from scaler.simulate.run import peakshop_replicas, policy_settings_for
from scaler.simulate.trace import Trace, trace_from_rates


def reference_run(trace: Trace, cluster: ClusterSettings, policy, on_observation=None
                  ) -> RequestedReplicas:
    """Second by second: observe (delayed, with the same seeded faults), decide every period,
    start pods, resize them, serve orders."""
    rps = trace.per_second(trace.rps).tolist()
    orders = trace.per_second(trace.orders_per_s).tolist()
    demand = web_demand(np.array(rps), cluster).tolist()
    web0, workers0 = settled_start(trace, cluster)
    startup, mu, resize = cluster.startup_s, cluster.worker_orders_per_s, cluster.resize_s
    faults = plan_faults(trace.duration_s, cluster)
    lowest, highest = cluster.min_replicas, cluster.max_replicas
    sized = lambda value: min(max(value, 1.0), cluster.max_pod_size)  # noqa: E731

    def at(series, second, before):
        return series[second] if second >= 0 else before

    web_req, web_ready, wk_req, wk_ready, backlog = [], [], [], [], []
    web_size, wk_size, web_cap, wk_cap = [], [], [], []
    state = policy.initial_state(web0, workers0)
    web_now, wk_now, web_size_now, wk_size_now = web0, workers0, 1.0, 1.0
    for t in range(trace.duration_s):
        if t % policy.period_s == 0:
            code = faults.code_at(t)
            seen_at = t - cluster.scrape_s if code == LATE else t
            scrape = seen_at - cluster.scrape_s    # the scrape covers the seconds before it
            window = range(scrape - cluster.rate_window_s, scrape)
            rate = sum(rps[max(s, 0)] for s in window) / len(window)
            orders_rate = sum(orders[max(s, 0)] for s in window) / len(window)
            short = sum(rps[max(s, 0)] for s in window
                        if at(web_cap, s, web0) < demand[max(s, 0)])
            last = scrape - 1
            ready_web, ready_wk = at(web_ready, last, web0), at(wk_ready, last, workers0)
            waiting = at(backlog, last, 0.0)
            traffic_ok, queue_ok = code not in (TRAFFIC_MISSING, OUTAGE), code != QUEUE_MISSING
            age_s = float(cluster.scrape_s) * (2 if code == LATE else 1)
            if not traffic_ok:
                age_s = max(age_s, faults.traffic_age_at(t))
            observation = Observation(
                at_s=float(t), request_rate=rate if traffic_ok else None, latency_p95_s=None,
                latency_within_slo=(short <= cluster.p95_share * rate * len(window)
                                    if traffic_ok else None),
                cpu_utilization=(min(1.0, rate / (at(web_cap, last, web0) * cluster.pod_max_rps))
                                 if traffic_ok else None),
                queue_backlog=round(waiting) if queue_ok else None,
                queue_oldest_age_s=waiting / (at(wk_cap, last, workers0) * mu) if queue_ok
                else None, orders_rate=orders_rate if queue_ok else None,
                web_ready=ready_web, web_requested=at(web_req, last, web0),
                workers_ready=ready_wk, workers_requested=at(wk_req, last, workers0),
                age_s=age_s)
            if on_observation is not None:
                on_observation(observation)
            decision, state = policy.decide(observation, state)
            bound = lambda n: min(max(n, lowest), highest)  # noqa: E731
            web_now, wk_now = bound(decision.web.replicas), bound(decision.workers.replicas)
            web_size_now, wk_size_now = sized(decision.web.size), sized(decision.workers.size)
        web_req.append(web_now)
        wk_req.append(wk_now)
        web_size.append(web_size_now)
        wk_size.append(wk_size_now)
        # a pod asked for at u serves from u + startup; scaling down drops unready pods first;
        # in-pod size likewise after resize_s
        web_ready.append(min(at(web_req, u, web0) for u in range(t - startup, t + 1)))
        wk_ready.append(min(at(wk_req, u, workers0) for u in range(t - startup, t + 1)))
        web_cap.append(web_ready[t] * min(at(web_size, u, 1.0) for u in range(t - resize, t + 1)))
        wk_cap.append(wk_ready[t] * min(at(wk_size, u, 1.0) for u in range(t - resize, t + 1)))
        backlog.append(max(0.0, at(backlog, t - 1, 0.0) + orders[t] - wk_cap[t] * mu))
    resized = any(size != 1.0 for size in web_size + wk_size)
    return RequestedReplicas(np.array(web_req), np.array(wk_req), web0, workers0,
                             np.array(web_size) if resized else None,
                             np.array(wk_size) if resized else None)


def bursty_trace(step_s: int, steps: int, seed: int) -> Trace:
    """Noisy traffic with a sudden crowd and an order rush that outruns the workers."""
    generator = np.random.default_rng(seed)
    rps = 60 + 40 * np.sin(np.arange(steps) / steps * 6) + generator.normal(0, 6, steps)
    rps[steps // 3 : steps // 3 + max(2, steps // 12)] *= 5
    orders = rps * 0.03
    orders[steps // 2 : steps // 2 + max(2, steps // 20)] = 40.0
    # Whole requests and quarter orders: every window sum is exact in floating point, so both
    # models see bit-identical rates however they add them up.
    return trace_from_rates(np.clip(np.round(rps), 0, None), np.round(orders * 4) / 4,
                            step_s=step_s)


def peakshop_for(cluster: ClusterSettings, events: EventSchedule | None = None):
    history = RateHistory()
    policy = PeakshopPolicy(policy_settings_for(cluster), events=events,
                            forecaster=Forecaster(history, events=events))
    return policy, history.record


# Pushes are sent per tick (the reference walks seconds), so they are off here; a resize that
# lasts whole ticks keeps the engine's own view exact. Faults are on, and frequent.
CLUSTERS = {
    "defaults": ClusterSettings(push=False, resize_s=15, signal_faults=0.2,
                                outages_per_day=40),
    "odd-startup": ClusterSettings(startup_s=50, scrape_s=10, rate_window_s=20, push=False,
                                   resize_s=10, signal_faults=0.2, outages_per_day=40),
}


@pytest.mark.parametrize("cluster_name", list(CLUSTERS))
@pytest.mark.parametrize(("step_s", "steps"), [(60, 120), (1, 1800)])
@pytest.mark.parametrize("policy_name", ["hpa-cpu", "keda-queue", "peakshop"])
def test_engine_matches_the_second_by_second_model(cluster_name, step_s, steps, policy_name):
    cluster = CLUSTERS[cluster_name]
    trace = bursty_trace(step_s, steps, seed=steps)
    events = EventSchedule([Event(trace.duration_s * 0.6, "launch", 2.0, 600.0)])

    def build():
        if policy_name == "hpa-cpu":
            return HpaCpuPolicy(cluster.capacity, cluster.bounds,
                                max_pod_size=cluster.max_pod_size), None
        if policy_name == "keda-queue":
            return KedaQueuePolicy(cluster.capacity, cluster.bounds,
                                   max_pod_size=cluster.max_pod_size), None
        return peakshop_for(cluster, events)

    fast_policy, fast_record = build()
    slow_policy, slow_record = build()
    fast = run_closed_loop(trace, cluster, fast_policy, on_observation=fast_record)
    slow = reference_run(trace, cluster, slow_policy, on_observation=slow_record)
    assert np.array_equal(fast.web, slow.web)
    assert np.array_equal(fast.workers, slow.workers)
    assert measure(trace, cluster, fast).combined == measure(trace, cluster, slow).combined
    # the run must have had something to do, or the comparison proves nothing
    assert len(np.unique(fast.web)) > 2 and len(np.unique(fast.workers)) > 1


def test_tick_is_the_largest_step_that_keeps_the_model_constant():
    minute_trace = trace_from_rates([10.0] * 3)
    assert tick_for(minute_trace, ClusterSettings(), 15) == 15
    assert tick_for(minute_trace, ClusterSettings(), 30) == 15
    assert tick_for(minute_trace, ClusterSettings(startup_s=50), 15) == 5
    assert tick_for(trace_from_rates([10.0] * 3, step_s=1), ClusterSettings(), 15) == 1


def test_a_per_second_trace_equals_the_same_per_minute_trace():
    minute = bursty_trace(60, 90, seed=7)
    second = trace_from_rates(minute.per_second(minute.rps), minute.per_second(minute.orders_per_s),
                              step_s=1)
    # Pushes go per tick (15 s here, 1 s there) and a 5 s resize is rounded to the tick in
    # the engine's own view: both differ by design between the two step sizes.
    cluster = ClusterSettings(push=False, resize_s=15)
    events = EventSchedule([Event(2400.0, "launch", 1.5, 900.0)])
    for name in ("hpa-cpu", "keda-queue"):
        kind = HpaCpuPolicy if name == "hpa-cpu" else KedaQueuePolicy
        policy = kind(cluster.capacity, cluster.bounds, max_pod_size=cluster.max_pod_size)
        by_minute = measure(minute, cluster, run_closed_loop(minute, cluster, policy))
        by_second = measure(second, cluster, run_closed_loop(second, cluster, policy))
        assert by_minute.combined == by_second.combined
    by_minute = measure(minute, cluster, peakshop_replicas(minute, cluster, events, None, 0))
    by_second = measure(second, cluster, peakshop_replicas(second, cluster, events, None, 0))
    assert by_minute.combined == by_second.combined
    assert by_minute.web.scaling_actions > 0


def reference_figures(trace: Trace, cluster: ClusterSettings, requested: RequestedReplicas
                      ) -> dict:
    """The figures second by second with plain loops, as docs/simulation.md defines them:
    ready = the lowest count asked for over the start-up delay, capacity = ready x the lowest
    in-pod size asked for over the resize delay (sizes in single precision, as the simulator
    keeps them), the order backlog carried from one second to the next."""
    seconds = trace.duration_s
    rps = trace.per_second(trace.rps).tolist()
    orders = trace.per_second(trace.orders_per_s).tolist()
    figures = {}
    combined_violated = [False] * seconds
    oldest = 0.0
    for name, initial, need_of in (
            ("web", requested.initial_web,
             lambda t: math.ceil(rps[t] / cluster.pod_slo_rps - 1e-9)),
            ("workers", requested.initial_workers,
             lambda t: math.ceil(orders[t] / cluster.worker_orders_per_s - 1e-9))):
        wanted = np.asarray(getattr(requested, name)).tolist()
        sizes = getattr(requested, f"{name}_size")
        sizes = [1.0] * seconds if sizes is None else np.asarray(sizes).tolist()
        backlog, violations, cost, under, over, theta_u, theta_o = 0.0, 0, 0.0, 0, 0, 0.0, 0.0
        for t in range(seconds):
            ready = min(wanted[u] if u >= 0 else initial for u in range(t - cluster.startup_s,
                                                                        t + 1))
            size = min(float(np.float32(sizes[u])) if u >= 0 else 1.0
                       for u in range(t - cluster.resize_s, t + 1))
            capacity, need = ready * size, need_of(t)
            if name == "web":
                violated = capacity < need
            else:
                backlog = max(0.0, backlog + orders[t] - capacity * cluster.worker_orders_per_s)
                age = backlog / (max(capacity, 1) * cluster.worker_orders_per_s)
                oldest = max(oldest, age)
                violated = age > cluster.queue_slo_s
            violations += violated
            combined_violated[t] = combined_violated[t] or violated
            cost += wanted[t] * sizes[t]
            gap = capacity - need
            under, over = under + (gap < 0), over + (gap > 0)
            theta_u += max(-gap, 0) * 100.0 / (seconds * max(need, 1))
            theta_o += max(gap, 0) * 100.0 / (seconds * max(need, 1))
        actions = sum(1 for t in range(seconds)
                      if wanted[t] != (wanted[t - 1] if t else initial))
        figures[name] = (violations, round(cost), theta_u, theta_o, 100.0 * under / seconds,
                         100.0 * over / seconds, actions)
    figures["combined_violations"] = sum(combined_violated)
    figures["max_queue_age_s"] = oldest
    return figures


@pytest.mark.parametrize(("step_s", "steps"), [(60, 90), (1, 2400)])
@pytest.mark.parametrize("policy_name", ["hpa-cpu", "peakshop"])
def test_figures_match_a_second_by_second_reference_whatever_the_part_size(step_s, steps,
                                                                          policy_name):
    """measure() works a part of the trace at a time (a day by default) on series kept per
    tick: with pushes and in-pod resize on (the defaults, faults frequent), every part size
    gives the reference's figures."""
    cluster = ClusterSettings(signal_faults=0.2, outages_per_day=40)
    trace = bursty_trace(step_s, steps, seed=steps + 1)
    if policy_name == "hpa-cpu":
        requested = run_closed_loop(trace, cluster, HpaCpuPolicy(
            cluster.capacity, cluster.bounds, max_pod_size=cluster.max_pod_size))
    else:
        policy, record = peakshop_for(cluster)
        requested = run_closed_loop(trace, cluster, policy, on_observation=record)
    assert requested.web_size is not None                       # pods were resized
    if policy_name == "peakshop" and step_s == 60:              # ... and pushes landed in ticks
        assert requested.web.patches and requested.web_size.patches
    expected = reference_figures(trace, cluster, requested)
    for chunk_s in (60, 660, 86400):
        measured = measure(trace, cluster, requested, chunk_s=chunk_s)
        for name in ("web", "workers"):
            figures = getattr(measured, name)
            assert (figures.slo_violation_seconds, figures.replica_seconds,
                    figures.scaling_actions) == (expected[name][0], expected[name][1],
                                                 expected[name][6])
            assert (figures.theta_u, figures.theta_o, figures.tau_u, figures.tau_o) == \
                pytest.approx(expected[name][2:6], rel=1e-9, abs=1e-12)
        assert measured.combined.slo_violation_seconds == expected["combined_violations"]
        assert measured.combined.max_queue_age_s == pytest.approx(expected["max_queue_age_s"])
    assert expected["web"][0] > 0 and expected["max_queue_age_s"] > 0   # something to count


def test_block_series_reads_like_the_array_it_stands_for():
    series = BlockSeries([3, 5, 4], 15, [(17, 9), (20, 7), (40, 6)], np.int64)
    plain = np.array([3] * 15 + [5, 5, 9, 9, 9, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7] + [4] * 10
                     + [6] * 5)
    assert len(series) == 45
    assert np.array_equal(np.asarray(series), plain)
    for start, stop in ((0, 45), (16, 21), (18, 41), (44, 45), (30, 30), (-5, None)):
        assert np.array_equal(series[start:stop], plain[start:stop])
    assert series[17] == 9 and series[-1] == 6
    with pytest.raises(IndexError):
        series[45]


class PushRecorder:
    """A policy that listens for pushes and keeps the replicas it started with."""

    period_s = 15
    listens_for_push = True

    def __init__(self) -> None:
        self.pushed: list[Observation] = []

    def initial_state(self, web: int, workers: int):
        return web, workers

    def decide(self, observation: Observation, state):
        from scaler.model import Decision, Reason, ScalingDecision

        if observation.pushed:
            self.pushed.append(observation)
        web, workers = state
        return ScalingDecision(Decision(web, Reason.WITHIN_TOLERANCE),
                               Decision(workers, Reason.WITHIN_TOLERANCE)), state


@pytest.mark.parametrize(("noise_sd", "pushed_minutes"), [(0.0, [5, 7]), (2.0, [7])])
def test_a_push_margin_leaves_out_arrivals_within_a_seconds_noise_of_the_mark(
        noise_sd, pushed_minutes):
    """10 pods (the lower bound) at 200/s: the mark is 10 x 0.9 x 32 = 288/s. Minute 5 sits
    one deviation past it (305/s), minute 7 three (339/s): with the live margin (2) only the
    second is a push."""
    cluster = ClusterSettings(push_noise_sd=noise_sd, max_pod_size=1.0, signal_faults=0.0,
                              outages_per_day=0.0, min_replicas=10)
    mark = 10 * 0.9 * cluster.pod_slo_rps
    rates = [200.0] * 5 + [mark + math.sqrt(mark), 200.0, mark + 3 * math.sqrt(mark), 200.0]
    trace = trace_from_rates(np.array(rates), np.zeros(len(rates)), step_s=60)
    assert settled_start(trace, cluster)[0] == 10
    policy = PushRecorder()
    run_closed_loop(trace, cluster, policy)
    assert sorted({int(seen.at_s // 60) for seen in policy.pushed}) == pushed_minutes
