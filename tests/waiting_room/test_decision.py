"""The pure rules: shedding in order of value, the load level, when to ask again."""

import math

import pytest

from shop.waiting_room.decision import (
    LoadLevel,
    LoadSignals,
    LoadThresholds,
    RequestClass,
    Verdict,
    load_level,
    queue_wait_s,
    retry_after_s,
    room_should_open,
    shed_or_admit,
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
