"""The burn-rate rule as a table: counts per window in, a verdict out."""

import pytest

from shop.status.burnrate import (
    MIN_EVENTS,
    RULES,
    Verdict,
    Window,
    evaluate,
    windows_needed,
)
from shop.status.components import ComponentStatus

OBJECTIVE = 0.999  # budget 0.1 %: 14.4x is 1.44 % errors, 6x is 0.6 %


def counts(m5=(0, 0), h1=(0, 0), m30=(0, 0), h6=(0, 0)) -> dict[int, Window]:
    """(good, bad) per window; each longer window holds the shorter ones' events too."""
    return {300: Window(*m5), 3600: Window(*h1), 1800: Window(*m30), 21600: Window(*h6)}


@pytest.mark.parametrize("observed, incident_open, verdict, impact", [
    # Nothing happening.
    (counts(), False, Verdict.QUIET, ComponentStatus.OPERATIONAL),
    (counts((1000, 0), (9000, 0), (5000, 0), (50000, 0)), False, Verdict.QUIET,
     ComponentStatus.OPERATIONAL),
    # A sharp failure: 5 % errors in both the 5 min and the 1 h window (50x).
    (counts((950, 50), (9500, 500), (4000, 500), (40000, 500)), False, Verdict.OPEN,
     ComponentStatus.DEGRADED),
    # Same, with an incident already open: keep it.
    (counts((950, 50), (9500, 500), (4000, 500), (40000, 500)), True, Verdict.KEEP,
     ComponentStatus.DEGRADED),
    # Most requests failing: an outage, not a degradation.
    (counts((10, 90), (100, 90), (100, 90), (100, 90)), False, Verdict.OPEN,
     ComponentStatus.OUTAGE),
    # A spike that ended: the 1 h window still burns, the 5 min one is clean.
    (counts((1000, 0), (9000, 300), (5000, 0), (50000, 300)), False, Verdict.QUIET,
     ComponentStatus.OPERATIONAL),
    # ... and with its incident open, that is the recovery.
    (counts((1000, 0), (9000, 300), (5000, 0), (50000, 300)), True, Verdict.RESOLVE,
     ComponentStatus.OPERATIONAL),
    # A slow burn: 1 % errors for hours (10x) trips only the 6 h / 30 min rule.
    (counts((990, 10), (9900, 100), (4950, 50), (59400, 600)), False, Verdict.OPEN,
     ComponentStatus.DEGRADED),
    # 0.5 % errors (5x): under both thresholds.
    (counts((995, 5), (9950, 50), (4975, 25), (59700, 300)), False, Verdict.QUIET,
     ComponentStatus.OPERATIONAL),
    # One failed request of three at night: too little traffic to page anyone.
    (counts((2, 1), (2, 1), (2, 1), (2, 1)), False, Verdict.QUIET,
     ComponentStatus.OPERATIONAL),
    # A total outage that ended: its 30 minutes still burn past 6x (the 6 h rule fires),
    # the last 5 are clean. With its incident open that is the recovery, not half an hour
    # more of "outage" on the status page ...
    (counts((1000, 0), (9000, 300), (4700, 300), (50000, 300)), True, Verdict.RESOLVE,
     ComponentStatus.OPERATIONAL),
    # ... and once resolved it does not open again while that window empties.
    (counts((1000, 0), (9000, 300), (4700, 300), (50000, 300)), False, Verdict.QUIET,
     ComponentStatus.OPERATIONAL),
    # Open, the last 5 minutes at 4x: under every rule, but over half the slowest (3x):
    # not recovered yet (no flapping of a slow burn around its rule's rate).
    (counts((996, 4), (9960, 40), (4980, 20), (59760, 240)), True, Verdict.KEEP,
     ComponentStatus.DEGRADED),
    # At 2x it has.
    (counts((998, 2), (9960, 40), (4980, 20), (59760, 240)), True, Verdict.RESOLVE,
     ComponentStatus.OPERATIONAL),
    # Open incident, traffic gone quiet: no evidence of recovery, leave it.
    (counts((3, 0), (50, 40), (10, 2), (50, 40)), True, Verdict.UNSURE,
     ComponentStatus.OPERATIONAL),
])
def test_burn_rate_table(observed, incident_open, verdict, impact):
    decision = evaluate(observed, OBJECTIVE, incident_open)
    assert decision.verdict == verdict
    assert decision.impact == impact


def test_exactly_at_the_threshold_fires():
    # 1.44 % errors is exactly 14.4x of a 0.1 % budget.
    observed = counts((9856, 144), (9856, 144), (9856, 144), (9856, 144))
    assert evaluate(observed, OBJECTIVE, False).verdict == Verdict.OPEN


def test_the_minimum_traffic_applies_to_the_short_window():
    observed = counts((0, MIN_EVENTS - 1), (0, 500), (0, MIN_EVENTS - 1), (0, 500))
    assert evaluate(observed, OBJECTIVE, False).verdict == Verdict.QUIET
    observed = counts((0, MIN_EVENTS), (0, 500), (0, MIN_EVENTS), (0, 500))
    assert evaluate(observed, OBJECTIVE, False).verdict == Verdict.OPEN


def test_the_rules_are_the_workbooks():
    assert [(r.long_window_s, r.short_window_s, r.factor) for r in RULES] == [
        (3600, 300, 14.4), (21600, 1800, 6.0)]
    assert windows_needed() == [300, 1800, 3600, 21600]
