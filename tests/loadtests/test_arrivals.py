"""Open arrivals: users per rate, a paced user's timetable and its dropped slots, the tallies."""

from __future__ import annotations

from collections import Counter

import pytest

from loadtests.arrivals import (
    PacedTimetable,
    SecondBook,
    Tally,
    offered_rate,
    percentile_s,
    rounded_ms,
    users_for_rate,
)


@pytest.mark.parametrize(("rate", "pacing_s", "users"), [
    (0, 10, 0),
    (-1, 10, 0),
    (0.01, 10, 1),      # any positive rate gets at least one user
    (9.65, 10, 96),     # 96.5 rounds to even
    (9.66, 10, 97),
    (80, 10, 800),
    (80, 2, 160),
    (82.57, 1, 83),
])
def test_users_for_rate(rate, pacing_s, users):
    assert users_for_rate(rate, pacing_s) == users


@pytest.mark.parametrize("rate", [0.5, 3, 10, 79.9, 250])
def test_users_offer_the_rate_asked_for(rate):
    """Within one user's worth (1 / pacing) of the rate, whatever the pacing."""
    for pacing_s in (1, 5, 10):
        assert abs(offered_rate(users_for_rate(rate, pacing_s), pacing_s) - rate) <= 0.5 / pacing_s


def test_first_slot_is_spread_over_one_period():
    assert PacedTimetable(10).first_wait(now=100.0, phase=0.0) == 0.0
    assert PacedTimetable(10).first_wait(now=100.0, phase=0.25) == pytest.approx(2.5)
    assert PacedTimetable(4).first_wait(now=100.0, phase=0.999) == pytest.approx(3.996)


@pytest.mark.parametrize(("visit_s", "wait_s", "missed"), [
    (0.05, 9.95, 0),    # a quick visit waits for the next slot
    (9.99, 0.01, 0),
    (10.0, 0.0, 0),     # ends exactly on the next slot: starts it on time
    (10.01, 9.99, 1),   # overran one slot: it is dropped, the one after is kept
    (25.0, 5.0, 2),
    (40.0, 0.0, 3),
])
def test_a_slow_visit_drops_the_slots_it_overran(visit_s, wait_s, missed):
    timetable = PacedTimetable(10)
    timetable.first_wait(now=0.0, phase=0.0)        # slot at 0
    assert timetable.after_visit(now=visit_s) == (pytest.approx(wait_s), missed)


def test_slots_stay_on_their_grid_whatever_the_jitter():
    """Waking late does not push later slots back: the rate stays 1 / pacing."""
    timetable = PacedTimetable(10)
    timetable.first_wait(now=0.0, phase=0.3)         # slot at 3
    assert timetable.after_visit(now=3.4) == (pytest.approx(9.6), 0)    # next at 13
    assert timetable.after_visit(now=13.9) == (pytest.approx(9.1), 0)   # woke 0.5 s late
    assert timetable.slot == pytest.approx(23.0)


@pytest.mark.parametrize(("visit_s", "started", "dropped"), [
    (1.0, 10, 0),       # fast server: every slot of 100 s is started
    (15.0, 5, 5),       # every visit overruns one slot
    (35.0, 3, 7),
])
def test_offered_is_started_plus_dropped(visit_s, started, dropped):
    """One user over 100 s offers 10 visits at a 10 s pacing, however slow the server."""
    timetable = PacedTimetable(10)
    now = timetable.first_wait(0.0, 0.0)
    counted = Tally()
    while now < 100:
        counted.started += 1
        wait_s, missed = timetable.after_visit(now + visit_s)
        counted.dropped += sum(1 for k in range(missed)
                               if timetable.slot - (k + 1) * 10 < 100)
        now = timetable.slot
    assert (counted.started, counted.dropped, counted.offered) == (started, dropped, 10)


@pytest.mark.parametrize(("start_s", "late"), [(3.0, False), (4.0, False), (4.01, True)])
def test_a_visit_started_over_a_second_after_its_slot_is_late(start_s, late):
    """The load generator fell behind: the arrival happened, but not when it was due."""
    timetable = PacedTimetable(10)
    timetable.first_wait(now=0.0, phase=0.3)        # slot at 3
    assert timetable.is_late(start_s) is late


def test_after_visit_needs_a_first_slot():
    with pytest.raises(RuntimeError, match="first_wait"):
        PacedTimetable(10).after_visit(5.0)


@pytest.mark.parametrize(("seconds", "ms"), [
    (0.0004, 0), (0.0123, 12), (0.0996, 100), (0.123, 120), (0.456, 460),
    (1.234, 1200), (12.5, 12000),
])
def test_rounded_ms(seconds, ms):
    assert rounded_ms(seconds) == ms


def test_percentiles_of_a_histogram():
    histogram = Counter({10: 50, 20: 45, 900: 5})
    assert percentile_s(histogram, 0.5) == 0.01
    assert percentile_s(histogram, 0.95) == 0.02
    assert percentile_s(histogram, 0.96) == 0.9
    assert percentile_s(Counter(), 0.95) is None


def test_tallies_add_and_travel_as_json():
    one = Tally(started=3, dropped=1, requests=4, failures=1, orders_paid=1,
                latencies_ms=Counter({12: 3, 450: 1}))
    two = Tally.from_json(one.to_json())
    assert two == one
    two.add(one)
    assert (two.offered, two.requests, two.latencies_ms[12]) == (8, 8, 6)


def test_seconds_are_handed_out_once_in_order_without_gaps():
    book = SecondBook()
    book.at(100.2).started += 1
    book.at(102.9).started += 2
    assert [(s, t.started) for s, t in book.take_before(103.0)] == [(100, 1), (101, 0),
                                                                     (102, 2)]
    assert book.take_before(103.5) == []
    book.at(101.0).dropped += 4    # late news of a second already handed out
    assert [(s, t.dropped) for s, t in book.take_before(105.0)] == [(103, 4), (104, 0)]


def test_a_worker_hands_over_everything_and_the_master_merges_it():
    worker, master = SecondBook(), SecondBook()
    worker.at(200.5).requests += 5
    worker.at(201.5).requests += 7
    master.at(200.1).requests += 1
    master.merge(worker.take_all())
    assert worker.seconds == {}
    assert [(s, t.requests) for s, t in master.take_before(202)] == [(200, 6), (201, 7)]


def test_next_wait_is_the_first_slot_then_the_grid_reporting_what_an_overrun_missed():
    dropped = []
    timetable = PacedTimetable(10)
    assert timetable.next_wait(100.0, 0.5, dropped.append) == pytest.approx(5.0)  # slot 105
    assert timetable.next_wait(107.0, 0.9, dropped.append) == pytest.approx(8.0)  # slot 115
    assert dropped == []
    # A visit from 115 that ends at 141 overran the slots at 125 and 135: the next is 145.
    assert timetable.next_wait(141.0, 0.9, dropped.append) == pytest.approx(4.0)
    assert dropped == [2]
