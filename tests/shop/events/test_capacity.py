"""The capacity planned for an event: a pure function, checked as a table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shop.events.capacity import READY_LEAD, Window, estimate, peak_concurrent_rps, replicas_for

T0 = datetime(2026, 12, 20, 18, 0)


def window(key: int, start_min: int, length_min: int, rps: int) -> Window:
    start = T0 + timedelta(minutes=start_min)
    return Window(start, start + timedelta(minutes=length_min), rps, key)


@pytest.mark.parametrize("rps, pod_max_rps, utilisation, replicas", [
    (1, 40, 0.8, 1),
    (32, 40, 0.8, 1),
    (33, 40, 0.8, 2),
    (64, 40, 0.8, 2),     # exactly two replicas' worth, not three by a float's last bit
    (1000, 40, 0.8, 32),  # 1000 / 32 = 31.25
    (1000, 100, 0.5, 20),
    (0, 40, 0.8, 1),      # the platform never plans zero web replicas
])
def test_replicas_for(rps, pod_max_rps, utilisation, replicas):
    assert replicas_for(rps, pod_max_rps, utilisation) == replicas


MINE = window(1, 0, 60, 100)


@pytest.mark.parametrize("others, peak", [
    ([], 100),
    ([MINE], 100),                                          # itself is counted once
    ([window(2, 0, 60, 100)], 200),                         # same window, another shop
    ([window(2, 60, 30, 500)], 100),                        # starts as mine ends
    ([window(2, -30, 30, 500)], 100),                       # ends as mine starts
    ([window(2, 30, 60, 50)], 150),
    ([window(2, 0, 10, 300), window(3, 30, 10, 200)], 400),  # never both at once
    ([window(2, 0, 40, 300), window(3, 30, 10, 200)], 600),  # both at minute 30
    ([window(2, -600, 6000, 20)], 120),                     # began long before
])
def test_peak_concurrent_rps(others, peak):
    assert peak_concurrent_rps(MINE, others) == peak


def test_estimate_counts_other_shops_and_asks_for_readiness_before_the_start():
    planned = estimate(MINE, [window(2, 10, 20, 60)], pod_max_rps=40, utilisation=0.8)
    assert planned.peak_rps == 160
    assert planned.web_replicas == 5
    assert planned.ready_by == MINE.starts_at - READY_LEAD
