"""The guard rails, one named function each, as tables."""

from __future__ import annotations

import pytest

from scaler.capacity import Bounds
from scaler.guardrails import (
    limit_scale_down,
    limit_scale_up,
    remember,
    scale_up_limit,
    stabilise,
    tolerance_band,
    within_tolerance,
)


@pytest.mark.parametrize(("ratio", "tolerance", "tolerance_up", "expected"), [
    (1.0, 0.1, None, True),
    (1.1, 0.1, None, True),
    (1.11, 0.1, None, False),
    (0.9, 0.1, None, True),
    (0.89, 0.1, None, False),
    (1.01, 0.1, 0.0, False),     # an asymmetric band: any excess above target counts
    (0.95, 0.1, 0.0, True),
])
def test_within_tolerance(ratio, tolerance, tolerance_up, expected):
    assert within_tolerance(ratio, tolerance, tolerance_up) is expected


@pytest.mark.parametrize(("current", "desired", "ratio", "expected"), [
    (10, 11, 1.05, 10),
    (10, 12, 1.2, 12),
    (10, 9, 0.95, 10),
    (10, 8, 0.8, 8),
])
def test_tolerance_band(current, desired, ratio, expected):
    assert tolerance_band(current, desired, ratio, 0.1) == expected


def test_remember_keeps_the_window_and_its_highest_first():
    window = ()
    for at_s, replicas in [(0, 5), (15, 3), (30, 4), (45, 2)]:
        window = remember(window, at_s, replicas, window_s=60)
    assert window == ((0, 5), (30, 4), (45, 2))  # the highest first
    window = remember(window, 60, 1, window_s=60)  # the entry at 0 is 60 s old: gone
    assert window == ((30, 4), (45, 2), (60, 1))


@pytest.mark.parametrize(("current", "desired", "window", "expected"), [
    (5, 8, ((0, 2),), 8),                 # up: at once
    (8, 3, ((0, 6), (15, 3)), 6),         # down: only to the window's highest
    (8, 3, ((0, 9), (15, 3)), 8),         # never above the current count
    (8, 3, ((15, 3),), 3),
    (8, 3, (), 3),
])
def test_stabilise(current, desired, window, expected):
    assert stabilise(current, desired, window) == expected


@pytest.mark.parametrize(("current", "factor", "pods", "expected"), [
    (2, 2.0, 4, 6),      # +4 pods beats doubling for small Deployments
    (10, 2.0, 4, 20),    # doubling beats +4 for large ones
    (3, 1.5, 0, 5),
])
def test_scale_up_limit(current, factor, pods, expected):
    assert scale_up_limit(current, factor, pods) == expected


@pytest.mark.parametrize(("current", "desired", "expected"), [
    (2, 100, 6), (2, 5, 5), (10, 15, 15), (10, 25, 20), (10, 3, 3),
])
def test_limit_scale_up(current, desired, expected):
    assert limit_scale_up(current, desired, 2.0, 4) == expected


@pytest.mark.parametrize(("current", "desired", "share", "expected"), [
    (10, 2, 0.25, 8),
    (10, 9, 0.25, 9),
    (3, 1, 0.25, 2),     # at least one pod may always go
    (10, 2, 1.0, 2),
    (4, 6, 0.25, 6),     # not a scale-down: untouched
])
def test_limit_scale_down(current, desired, share, expected):
    assert limit_scale_down(current, desired, share) == expected


@pytest.mark.parametrize(("replicas", "expected"), [(0, 2), (2, 2), (50, 50), (500, 200)])
def test_bounds_clamp(replicas, expected):
    assert Bounds(2, 200).clamp(replicas) == expected


def test_bounds_refuse_an_empty_range():
    with pytest.raises(ValueError, match="raise the maximum"):
        Bounds(5, 3)


def test_a_baseline_holding_without_its_metric_still_keeps_the_bounds():
    """Workers at 0 with the queue signal missing: held, but at the minimum, never below."""
    from scaler.model import Reason
    from scaler.policy.baselines import HpaBehaviour, HpaTarget, hpa_step

    held, target = hpa_step(HpaTarget(0), None, 1.0, 0.0, HpaBehaviour(Bounds(1, 3)),
                            Reason.QUEUE_BACKLOG, ready=0)
    assert (held.replicas, held.reason, target.replicas) == (1, Reason.MIN_REPLICAS, 1)
    held, _ = hpa_step(HpaTarget(2), None, 1.0, 0.0, HpaBehaviour(Bounds(1, 3)),
                       Reason.QUEUE_BACKLOG, ready=2)
    assert (held.replicas, held.reason) == (2, Reason.STALE_SIGNALS)
