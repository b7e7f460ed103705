"""The pure rules: shedding in order of value, the load level, when to ask again."""

import math

import pytest

from shop.waiting_room.decision import (
    LoadLevel,
    LoadSignals,
    LoadThresholds,
    RequestClass,
    UpstreamLoad,
    Verdict,
    admission_rate_cut,
    admission_rate_rise,
    climbing_eta_s,
    load_level,
    overload_has_lasted,
    queue_wait_s,
    retry_after_s,
    room_should_open,
    shed_or_admit,
    upstream_level,
)

A, S = Verdict.ADMIT, Verdict.SHED
LEVELS = list(LoadLevel)

# One row per request class, one column per level: NORMAL ELEVATED HIGH SEVERE CRITICAL.
SHEDDING_TABLE = {
    RequestClass.CRAWLER:          (A, A, S, S, S),
    RequestClass.ANONYMOUS_BROWSE: (A, A, A, S, S),
    RequestClass.ADMITTED_BROWSE:  (A, A, A, A, S),
    RequestClass.CART:             (A, A, A, A, S),
    RequestClass.CHECKOUT:         (A, A, A, A, A),
    RequestClass.ESSENTIAL:        (A, A, A, A, A),
}


@pytest.mark.parametrize(("request_class", "level", "verdict"), [
    (request_class, level, verdicts[index])
    for request_class, verdicts in SHEDDING_TABLE.items()
    for index, level in enumerate(LEVELS)])
def test_shedding_follows_the_value_of_the_request(request_class, level, verdict):
    assert shed_or_admit(request_class, level) is verdict


def test_a_more_valuable_class_is_never_shed_before_a_less_valuable_one():
    for level in LEVELS:
        shed = [shed_or_admit(request_class, level) is S for request_class in RequestClass]
        # Once a class is admitted, every more valuable one is too.
        assert shed == sorted(shed, reverse=True), level


THRESHOLDS = LoadThresholds(slo_s=0.5, critical_wait_s=20.0)


@pytest.mark.parametrize(("backlog", "service_s", "concurrency", "level"), [
    (0, 0.005, 1, LoadLevel.NORMAL),
    (40, 0.005, 1, LoadLevel.NORMAL),        # 0.2 s of queue: fine
    (50, 0.005, 1, LoadLevel.ELEVATED),      # 0.25 s + 5 ms: half the SLO
    (50, 0.005, 2, LoadLevel.NORMAL),        # two workers share the queue
    (100, 0.005, 1, LoadLevel.HIGH),
    (400, 0.005, 1, LoadLevel.SEVERE),
    (4000, 0.005, 1, LoadLevel.CRITICAL),    # 20 s: requests would time out
    (0, 0.3, 1, LoadLevel.ELEVATED),         # a slow database alone
    (0, 2.5, 4, LoadLevel.SEVERE),
])
def test_load_level_from_the_wait_ahead_and_the_service_time(backlog, service_s, concurrency,
                                                             level):
    assert load_level(LoadSignals(backlog, service_s, concurrency), THRESHOLDS) is level


def test_queue_wait_is_littles_law_and_survives_zero_workers():
    assert queue_wait_s(LoadSignals(30, 0.01, 3)) == pytest.approx(0.1)
    assert queue_wait_s(LoadSignals(30, 0.01, 0)) == pytest.approx(0.3)


@pytest.mark.parametrize(("level", "opens"), [
    (LoadLevel.NORMAL, False), (LoadLevel.ELEVATED, True), (LoadLevel.HIGH, True),
    (LoadLevel.CRITICAL, True)])
def test_the_room_opens_before_anonymous_visitors_would_be_shed(level, opens):
    assert room_should_open(level) is opens
    if shed_or_admit(RequestClass.ANONYMOUS_BROWSE, level) is S:
        assert opens


@pytest.mark.parametrize(("eta_s", "retry_s"), [
    (0.0, 2), (3.0, 2), (9.0, 5), (30.0, 15), (600.0, 60), (math.inf, 60)])
def test_retry_after_is_a_fraction_of_the_eta_within_bounds(eta_s, retry_s):
    assert retry_after_s(eta_s) == retry_s


# Two slots, 0.1 s per request, SLO 0.5 s: the target wait (half the SLO) is a queue of 5.
SLO = LoadThresholds(slo_s=0.5)


def gate_queue(backlog: int) -> LoadSignals:
    return LoadSignals(listen_backlog=backlog, service_time_s=0.1, concurrency=2)


@pytest.mark.parametrize(("backlog", "cut"), [
    (5, 0.9),        # at the target: the gentle cut, no deeper
    (6, 5 / 6),      # 1.2 x the target: to 83%
    (7, 5 / 7),      # 1.4 x: to 71%
    (10, 0.5),       # twice the target: halved within the second
    (40, 0.5),       # far over it: halved, never deeper (the queue lags the rate)
])
def test_the_rate_is_cut_in_proportion_to_how_far_the_queue_is_over_its_target(backlog, cut):
    assert admission_rate_cut(gate_queue(backlog), backlog, SLO) == pytest.approx(cut)


def test_a_queue_under_its_target_asks_only_the_gentle_cut():
    """Overloaded by a slow service time alone: no queue to measure the excess by."""
    slow = LoadSignals(listen_backlog=1, service_time_s=0.4, concurrency=2)
    assert admission_rate_cut(slow, 1, SLO) == 0.9
    assert admission_rate_cut(gate_queue(0), 0, SLO) == 0.9
    assert admission_rate_cut(LoadSignals(3, 0.0, 2), 3, SLO) == 0.9   # nothing measured yet


def test_a_queue_draining_towards_its_target_holds_the_rate():
    # 20 a second ago, 10 now: on course to 5 within 2 s, the last cut is working.
    assert admission_rate_cut(gate_queue(10), 20, SLO) == 1.0
    # Falling, but too slowly to reach its target soon: cut again.
    assert admission_rate_cut(gate_queue(10), 11, SLO) == pytest.approx(0.5)
    # Growing: cut.
    assert admission_rate_cut(gate_queue(10), 4, SLO) == pytest.approx(0.5)


# --- behind the gate: gunicorn's load by gunicorn's own clock ------------------------------


@pytest.mark.parametrize(("waiting", "service_s", "busy", "level"), [
    # gunicorn says 0.005 s a request (its own clock); the gate's clock, lagging, said 0.3 s.
    (1, 0.005, 0.1, LoadLevel.NORMAL),        # a request or two in line: no overload
    (20, 0.005, 0.1, LoadLevel.NORMAL),       # 20 in line: 0.05 s ahead (by the gate's: 3 s)
    (90, 0.005, 0.6, LoadLevel.NORMAL),
    (100, 0.005, 0.6, LoadLevel.ELEVATED),    # 0.25 s ahead + 0.005 s: past half the SLO
    (200, 0.005, 0.4, LoadLevel.HIGH),        # a long queue counts, whoever is slow
    (20, 0.1, 0.95, LoadLevel.HIGH),          # 20 x 0.1 s over two slots: a 1 s wait
    (20, 0.1, None, LoadLevel.HIGH),          # busy share unknown: the same
    (0, 0.6, 0.2, LoadLevel.HIGH),            # slow requests break the SLO however idle
    (2, 0.1, 0.9, LoadLevel.NORMAL),          # busy but a short queue: 0.1 s ahead
    (4, 0.1, 0.9, LoadLevel.ELEVATED),        # 0.2 s ahead + 0.1 s: half the SLO passed
    (500, 0.1, 1.0, LoadLevel.CRITICAL),      # 25 s ahead: requests would time out
])
def test_the_gates_queue_costs_gunicorns_own_time_per_request(waiting, service_s, busy, level):
    load = UpstreamLoad(waiting=waiting, service_time_s=service_s, busy_share=busy, slots=2)
    assert upstream_level(load, THRESHOLDS) is level


@pytest.mark.parametrize(("waiting", "service_s", "drained", "level"), [
    # gunicorn under a CPU limit says 9 ms a request but finishes 40 a second (one every
    # 25 ms: the pauses between requests are not on its clock); two slots.
    (62, 0.009, None, LoadLevel.ELEVATED),    # by its clock: 0.28 s ahead
    (62, 0.009, 40.0, LoadLevel.HIGH),        # by what it finishes: 62 / 40 = 1.55 s ahead
    (20, 0.009, 40.0, LoadLevel.HIGH),        # 0.5 s ahead
    (8, 0.009, 40.0, LoadLevel.ELEVATED),     # 0.2 s ahead + 0.05 s in a slot: half the SLO
    (4, 0.009, 40.0, LoadLevel.NORMAL),       # 0.1 s ahead
    (300, 0.009, 40.0, LoadLevel.SEVERE),     # 7.5 s ahead
    (62, 0.009, 400.0, LoadLevel.ELEVATED),   # finishing faster than its clock says: its clock
    (10, 0.009, 0.0, LoadLevel.CRITICAL),     # a standing queue and nothing finished: stuck
])
def test_a_standing_queue_costs_what_gunicorn_finishes_a_second(waiting, service_s, drained,
                                                                 level):
    load = UpstreamLoad(waiting=waiting, service_time_s=service_s, busy_share=0.6, slots=2,
                        drained_per_s=drained)
    assert upstream_level(load, THRESHOLDS) is level


@pytest.mark.parametrize(("samples", "lasted"), [
    ([], False),
    ([True], False),                          # a surge's first half second
    ([True, True], False),                    # ... and its first second
    ([True, True, True], True),               # over target for more than a second
    ([False, True, True, True], True),        # the last three count
    ([True, True, True, False], False),       # it passed
    ([True, False, True], False),             # on and off: a short queue that drains
])
def test_the_room_opens_only_on_an_overload_that_lasted(samples, lasted):
    assert overload_has_lasted(samples) is lasted


@pytest.mark.parametrize(("busy", "rise"), [
    (None, 1.05),      # nothing measured: the gentle rise of old
    (1.0, 1.05),       # no headroom
    (0.75, 1.05),      # at the mark
    (0.7, 0.75 / 0.7),  # a little headroom: a little faster (7%)
    (0.65, 0.75 / 0.65),  # 0.75 / 0.65: what would bring gunicorn to the mark (15%)
    (0.6, 1.25),       # a quarter more, the steepest
    (0.5, 1.25),       # half busy: still at most a quarter more in one second
    (0.0, 1.25),
])
def test_the_rate_rises_in_proportion_to_gunicorns_headroom(busy, rise):
    assert admission_rate_rise(busy) == pytest.approx(rise)


def test_a_faster_rise_never_falls_below_the_gentle_one():
    shares = [i / 100 for i in range(0, 101)]
    rises = [admission_rate_rise(share) for share in shares]
    assert all(1.05 <= rise <= 1.5 for rise in rises)
    assert rises == sorted(rises, reverse=True)   # more headroom, never a slower rise


@pytest.mark.parametrize(("position", "rate", "climb", "eta"), [
    (100, 10.0, 1.0, 10.0),                    # a steady line: position over rate
    (100, 10.0, 0.9, 10.0),                    # not a climb: the rate of the moment
    (100, 10.0, math.nan, 10.0),
    # 5% a second: served by t is 10 (1.05**t - 1) / ln 1.05; 100 served at t ~ 8.3 s
    (100, 10.0, 1.05, math.log1p(100 * math.log(1.05) / 10) / math.log(1.05)),
    (900, 15.0, 1.05, math.log1p(900 * math.log(1.05) / 15) / math.log(1.05)),  # ~28 s, not 60
    (100, 10.0, 3.0, math.log1p(100 * math.log(1.25) / 10) / math.log(1.25)),  # at most 1.25
    (0, 10.0, 1.2, 0.0),
    (5, 0.0, 1.2, math.inf),                   # a line that does not move
])
def test_a_climbing_rate_shortens_the_eta_by_the_climb(position, rate, climb, eta):
    assert climbing_eta_s(position, rate, climb) == pytest.approx(eta)


def test_the_climbing_eta_is_never_longer_than_the_steady_one():
    for climb in (1.0, 1.01, 1.05, 1.2, 1.5):
        for position in (1, 10, 100, 10_000):
            assert climbing_eta_s(position, 10.0, climb) <= position / 10.0 + 1e-9
