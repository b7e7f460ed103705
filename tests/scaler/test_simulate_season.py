"""The published seasons: the oracle over a whole season, the policies over its first week."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.events import EventSchedule, load_events
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.run import simulate
from scaler.simulate.trace import load_trace, trace_from_rates

CLUSTER = ClusterSettings()
WEEK_MIN = 7 * 24 * 60


@pytest.fixture(scope="module")
def season_2023(traces_dir):
    return load_trace(traces_dir / "season-2023.csv")


def test_the_oracle_never_misses_a_whole_season(season_2023):
    run = simulate("oracle", season_2023, CLUSTER)
    assert season_2023.duration_s == 139_680 * 60
    assert run.measurement.combined.slo_violation_seconds == 0
    assert run.measurement.combined.tau_u == 0.0


def test_peakshop_beats_the_baselines_on_the_first_week(season_2023, traces_dir):
    week = trace_from_rates(season_2023.rps[:WEEK_MIN], season_2023.orders_per_s[:WEEK_MIN])
    announced = load_events(traces_dir / "season-2023.events.csv")
    events = EventSchedule(event for event in announced.events
                           if event.start_s < week.duration_s)
    assert len(events) == 2   # an e-mail blast and a collection launch
    runs = {name: simulate(name, week, CLUSTER, events).measurement.combined
            for name in ("peakshop", "hpa-cpu", "keda-queue", "oracle")}
    for baseline in ("hpa-cpu", "keda-queue"):
        assert runs["peakshop"].slo_violation_seconds < runs[baseline].slo_violation_seconds
        assert runs["peakshop"].replica_seconds < runs[baseline].replica_seconds
    assert runs["oracle"].slo_violation_seconds == 0
    assert runs["oracle"].replica_seconds == min(run.replica_seconds for run in runs.values())
    assert np.isfinite(runs["peakshop"].theta_o)


@pytest.mark.parametrize("fault_seed", [0, 6])
def test_the_unannounced_flash_sale_meets_its_goals(traces_dir, fault_seed):
    """At most 0.25x hpa-cpu's SLO-violation seconds at most 1.10x the oracle's replica-seconds,
    with nothing announced (docs/simulation.md: the push's extrapolation is capped and its
    pods go once the crowd did not come; seed 6 loses a reading just after the push)."""
    cluster = ClusterSettings(fault_seed=fault_seed)
    flash = load_trace(traces_dir / "flash-sale-10min.csv")
    runs = {name: simulate(name, flash, cluster).measurement.combined
            for name in ("peakshop", "hpa-cpu", "oracle")}
    assert runs["hpa-cpu"].slo_violation_seconds > 0
    assert (runs["peakshop"].slo_violation_seconds
            <= 0.25 * runs["hpa-cpu"].slo_violation_seconds)
    assert runs["peakshop"].replica_seconds <= 1.10 * runs["oracle"].replica_seconds



def test_the_unannounced_flash_sale_meets_its_goals_on_the_noisy_platform(traces_dir):
    """The same goals with Poisson arrival noise and the live push rule (0.92, 1.5
    deviations), summed over noise seeds 0-2 as docs/simulation.md states them. Pods asked
    for at every push cost 1.101x the oracle (1.130x on seed 1); a first push that resizes
    before it asks for pods (`resize_first`) 1.093x ("A push of small evidence resizes
    first")."""
    flash = load_trace(traces_dir / "flash-sale-10min.csv")
    sums = dict.fromkeys(("peakshop", "hpa-cpu", "oracle"), (0, 0))
    for noise_seed in (0, 1, 2):
        cluster = ClusterSettings(arrival_noise=1.0, noise_seed=noise_seed, push_at=0.92,
                                  push_noise_sd=1.5)
        for name in sums:
            figures = simulate(name, flash, cluster).measurement.combined
            violations, cost = sums[name]
            sums[name] = (violations + figures.slo_violation_seconds,
                          cost + figures.replica_seconds)
    assert sums["hpa-cpu"][0] > 0
    assert sums["peakshop"][0] <= 0.25 * sums["hpa-cpu"][0]
    assert sums["peakshop"][1] <= 1.10 * sums["oracle"][1]
