"""The cluster model and the figures, on small traces with hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.policy.baselines import HpaCpuPolicy
from scaler.simulate.cluster import (
    ClusterSettings,
    demand_ahead,
    order_backlog,
    ready_replicas,
    web_demand,
    worker_demand,
)
from scaler.simulate.engine import RequestedReplicas, run_closed_loop
from scaler.simulate.metrics import measure
from scaler.simulate.references import oracle_plan, static_peak_plan
from scaler.simulate.trace import trace_from_rates

CLUSTER = ClusterSettings()


@pytest.mark.parametrize(("rps", "pods"), [(0.0, 0), (1.0, 1), (32.0, 1), (32.01, 2), (64.0, 2),
                                           (995.0, 32)])
def test_web_demand_is_rate_over_slo_capacity_rounded_up(rps, pods):
    assert web_demand(np.array([rps]), CLUSTER).tolist() == [pods]


@pytest.mark.parametrize(("orders", "workers"), [(0.0, 0), (5.0, 1), (5.5, 2), (21.4, 5)])
def test_worker_demand(orders, workers):
    assert worker_demand(np.array([orders]), CLUSTER).tolist() == [workers]


def test_pods_become_ready_after_startup_and_leave_at_once():
    requested = np.array([2, 2, 5, 5, 5, 5, 3, 3, 6, 4, 4, 4, 4])
    # startup 2 s: asked for at 2, ready at 4; the drop at 6 is immediate; the pods asked for
    # at 8 are gone at 9 before they were ready (unready pods go first).
    assert ready_replicas(requested, initial=2, startup_s=2).tolist() == [
        2, 2, 2, 2, 5, 5, 3, 3, 3, 3, 4, 4, 4]


def test_demand_ahead_is_the_highest_demand_of_the_coming_seconds():
    demand = np.array([1, 1, 1, 4, 1, 1, 2, 1])
    assert demand_ahead(demand, 2).tolist() == [1, 4, 4, 4, 2, 2, 2, 1]


def test_backlog_carries_over_and_drains():
    arrivals = np.array([12.0, 12.0, 0.0, 0.0, 20.0])
    workers = np.array([2, 2, 2, 2, 2])   # 10 orders/s
    assert order_backlog(arrivals, workers, CLUSTER).tolist() == [2.0, 4.0, 0.0, 0.0, 10.0]


def test_worker_backlog_age_against_the_queue_slo():
    # Two workers confirm 10 orders/s; 20/s arrive for two minutes, then none.
    trace = trace_from_rates([0.0] * 5, [20.0, 20.0, 0.0, 0.0, 0.0])
    seconds = trace.duration_s
    fixed = RequestedReplicas(np.full(seconds, 2), np.full(seconds, 2), 2, 2)
    workers = measure(trace, CLUSTER, fixed).workers
    # backlog 10 (t + 1) for t < 120: age 1 + t, over 60 s from t = 60 to 119 (60 s);
    # then it drains 10 a second: over 600 orders for 59 more seconds; oldest 120 s.
    assert workers.slo_violation_seconds == 60 + 59
    assert workers.max_queue_age_s == pytest.approx(120.0)


def test_static_peak_pays_the_peak_all_the_time():
    trace = trace_from_rates([10.0, 100.0, 40.0], [0.0, 12.0, 1.0])   # demand 1, 4, 2
    measurement = measure(trace, CLUSTER, static_peak_plan(trace, CLUSTER))
    assert measurement.web.replica_seconds == 4 * 180
    assert measurement.workers.replica_seconds == 3 * 180              # ceil(12 / 5) = 3
    assert measurement.combined.replica_seconds == 7 * 180
    assert measurement.combined.slo_violation_seconds == 0
    assert measurement.combined.scaling_actions == 0


def test_oracle_asks_startup_s_ahead_and_never_misses():
    generator = np.random.default_rng(3)
    rps = generator.gamma(2.0, 60.0, 3600)
    rps[1000:1100] *= 8
    trace = trace_from_rates(rps, rps * 0.05, step_s=1)
    plan = oracle_plan(trace, CLUSTER)
    measurement = measure(trace, CLUSTER, plan)
    assert measurement.combined.slo_violation_seconds == 0
    assert measurement.combined.theta_u == 0.0 and measurement.combined.tau_u == 0.0
    demand = web_demand(trace.per_second(trace.rps), CLUSTER)
    for second in (0, 500, 950, 999, 1060, 3599):
        ahead = demand[second : second + CLUSTER.startup_s + 1].max()
        assert plan.web[second] == max(ahead, CLUSTER.min_replicas)


def test_oracle_costs_no_more_than_any_policy_that_never_misses():
    trace = trace_from_rates([40.0, 40.0, 400.0, 400.0, 80.0, 80.0, 80.0, 40.0], [1.0] * 8)
    oracle = measure(trace, CLUSTER, oracle_plan(trace, CLUSTER))
    static = measure(trace, CLUSTER, static_peak_plan(trace, CLUSTER))
    assert oracle.combined.slo_violation_seconds == static.combined.slo_violation_seconds == 0
    assert oracle.combined.replica_seconds < static.combined.replica_seconds


def test_hpa_holds_its_replicas_through_the_300_s_window():
    # 480 rps for 10 minutes (20 pods at 0.6 CPU), then 40 rps.
    trace = trace_from_rates([480.0] * 10 + [40.0] * 20)
    requested = run_closed_loop(trace, CLUSTER, HpaCpuPolicy(CLUSTER.capacity, CLUSTER.bounds)).web
    # The first reading with low traffic is at 630 s (recommending 11); the last 20 was
    # recommended at 615 s and rules the window until 915 s.
    assert set(requested[:915].tolist()) == {20}
    assert requested[915:930].tolist() == [11] * 15
    assert set(requested[930:].tolist()) == {2}


def test_figures_by_hand():
    trace = trace_from_rates([64.0, 128.0], step_s=60)                  # demand 2, then 4
    requested = RequestedReplicas(np.array([2] * 60 + [3] * 60), np.full(120, 2), 2, 2)
    # web: ready 2 until 105, then 3; demand 4 from 60: under by 2 for 45 s, by 1 for 15 s
    web = measure(trace, CLUSTER, requested).web
    assert web.slo_violation_seconds == 60
    assert web.replica_seconds == 2 * 60 + 3 * 60
    assert web.theta_u == pytest.approx(100 / 120 * (45 * 2 / 4 + 15 * 1 / 4))
    assert web.theta_o == 0.0
    assert web.tau_u == pytest.approx(50.0)
    assert web.scaling_actions == 1
    assert web.max_queue_age_s is None


def test_bad_cluster_settings_name_the_flag():
    with pytest.raises(ValueError, match="--startup-s is out of range"):
        ClusterSettings(startup_s=-1)
    with pytest.raises(ValueError, match="--max-replicas is out of range"):
        ClusterSettings(min_replicas=5, max_replicas=3)
