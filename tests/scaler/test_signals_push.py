"""The pushed signal, heard from a real listen socket's accept queue (the kernel's own table).

The clock is stepped by hand so that the arrival rate a push reports is exact arithmetic;
the backlog itself is real: connections nobody accepted yet.
"""

from __future__ import annotations

import socket

import pytest

from scaler.model import Observation
from scaler.signals.procfs import ListenBacklog
from scaler.signals.push import (
    BacklogPush,
    Pressure,
    PushRule,
    PushVerdict,
    judge_arrivals,
    judge_sample,
    pushed_rate,
)
from scaler.signals.readings import ReplicaCounts
from tests.support import listening
from tests.support.listening import eventually

SCRAPED = Observation(at_s=100.0, request_rate=40.0, latency_p95_s=0.1, latency_within_slo=True,
                      cpu_utilization=0.5, queue_backlog=3, queue_oldest_age_s=1.0,
                      orders_rate=2.0, web_ready=1, web_requested=1, workers_ready=1,
                      workers_requested=1, age_s=15.0)


class SteppedClock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backlog_of(port: int, expected: int, deadline_s: float = 10.0) -> int | None:
    """The listen backlog once it reads `expected`; the last reading otherwise."""
    return eventually(ListenBacklog(port).waiting, expected, deadline_s)


listener = listening.listener


def test_a_growing_backlog_is_heard_as_arrivals_beyond_what_the_ready_replicas_serve(listener):
    port = listener.getsockname()[1]
    clock = SteppedClock()
    push = BacklogPush(ListenBacklog(port), lambda: ReplicaCounts(2, 3, 1, 1), pod_max_rps=150.0,
                       clock=clock, wall_clock=lambda: 5000.0)
    assert push.heard(SCRAPED) is None            # the first sample only sets the baseline
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    try:
        assert backlog_of(port, 4) == 4
        clock.now += 2.0
        pushed = push.heard(SCRAPED)
        assert pushed is not None and pushed.pushed
        # 2 ready replicas saturated at 150/s, and 4 more queued in 2 s
        assert pushed.request_rate == pytest.approx(2 * 150.0 + 4 / 2.0)
        assert (pushed.at_s, pushed.age_s, pushed.latency_within_slo) == (5000.0, 0.0, False)
        assert (pushed.web_ready, pushed.web_requested) == (2, 3)
        assert pushed.queue_backlog == SCRAPED.queue_backlog   # the rest is the last scrape's

        clock.now += 1.0
        assert push.heard(SCRAPED) is None        # a backlog that stays is not a new push
        accepted = [listener.accept()[0] for _ in range(3)]
        assert backlog_of(port, 1) == 1
        clock.now += 1.0
        assert push.heard(SCRAPED) is None        # nor one that shrinks
        for connection in accepted:
            connection.close()
    finally:
        for client in clients:
            client.close()


def test_nothing_is_heard_where_nobody_listens(listener):
    client = socket.create_connection(listener.getsockname())
    try:
        port = client.getsockname()[1]            # a connected client's port: not listening
        clock = SteppedClock()
        push = BacklogPush(ListenBacklog(port), lambda: ReplicaCounts(1, 1, 1, 1), 150.0,
                           clock=clock)
        assert push.heard(SCRAPED) is None
        clock.now += 1.0
        assert push.heard(SCRAPED) is None
    finally:
        client.close()


def test_two_samples_close_together_count_growth_over_a_whole_second(listener):
    port = listener.getsockname()[1]
    clock = SteppedClock()
    push = BacklogPush(ListenBacklog(port), lambda: ReplicaCounts(1, 1, 1, 1), 150.0,
                       clock=clock)
    push.heard(SCRAPED)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        assert backlog_of(port, 3) == 3
        clock.now += 0.01                      # a round asked just before: not 300 more a second
        assert push.heard(SCRAPED).request_rate == pytest.approx(150.0 + 3.0)
    finally:
        for client in clients:
            client.close()


# --- busy workers: a push at 0.9 of the SLO capacity, before anything queues -------------

# Without the noise margin: exactly the simulator's rule (its rates are steady in a second).
RULE = PushRule(pod_max_rps=40.0, slo_utilization=0.8, push_at=0.9, noise_sd=0.0)


@pytest.mark.parametrize(("previous", "current", "rate"), [
    # below the mark (0.9 x 0.8 = 0.72 of the workers busy): no push
    (None, Pressure(0, 0.7), None),
    # past it, from nothing known or from below: arrivals as the busy workers imply
    (None, Pressure(0, 0.75), 0.75 * 2 * 40.0),
    (Pressure(0, 0.5), Pressure(0, 0.9), 0.9 * 2 * 40.0),
    (Pressure(0), Pressure(0, 0.8), 0.8 * 2 * 40.0),
    # the accept queue grew: saturated, plus what queued per second (2 s apart)
    (Pressure(1, 1.0), Pressure(5, 1.0), 2 * 40.0 + 4 / 2),
    (Pressure(1), Pressure(5), 2 * 40.0 + 4 / 2),          # a pod that says no busy share
])
def test_the_push_rule_is_the_simulators(previous, current, rate):
    before = None if previous is None else (10.0, previous)
    assert pushed_rate(before, 12.0, current, 2, RULE) == (
        None if rate is None else pytest.approx(rate))


def test_a_queue_that_stays_with_every_worker_busy_was_heard_already():
    heard = judge_sample((10.0, Pressure(1, 1.0)), 11.0, Pressure(5, 1.0), 2, RULE)
    assert heard.rate == pytest.approx(84.0) and heard.pushed_low == pytest.approx(80.0)
    assert pushed_rate((11.0, Pressure(5, 1.0)), 12.0, Pressure(5, 1.0), 2, RULE,
                       heard.pushed_low) is None


def test_a_push_is_sent_again_only_while_pressure_keeps_rising():
    """Pushed at 0.8 (the lower bound pushed is kept): 0.83 is not 5 % more, 0.9 is; a dip
    that stays past the mark keeps the episode, one below it ends it."""
    def verdict(share, pushed_low):
        return judge_sample((10.0, Pressure(0, 0.8)), 11.0, Pressure(0, share), 2, RULE,
                            pushed_low)

    first = judge_sample(None, 10.0, Pressure(0, 0.8), 2, RULE)
    assert first == PushVerdict(pytest.approx(64.0), pytest.approx(64.0))
    assert verdict(0.83, first.pushed_low) == PushVerdict(None, first.pushed_low)
    assert verdict(0.9, first.pushed_low).rate == pytest.approx(72.0)
    assert verdict(0.75, first.pushed_low) == PushVerdict(None, first.pushed_low)
    assert verdict(0.6, first.pushed_low) == PushVerdict(None, None)     # below: over
    assert verdict(0.8, None).rate == pytest.approx(64.0)                # past it again


@pytest.mark.parametrize(("ready", "busy", "pushed"), [
    # 2 pods: 60/s implied against a mark of 57.6/s is within a second's noise (sd ~7.7)
    (2, 0.75, False),
    (2, 1.0, True),             # 80/s: past it by more than two deviations
    # 40 pods: 1,280/s against 1,152/s, the deviation ~36/s: a push
    (40, 0.8, True),
    (40, 0.74, False),          # 1,184/s: within two deviations of the mark
])
def test_busy_workers_must_pass_the_mark_beyond_a_seconds_noise(ready, busy, pushed):
    rule = PushRule(pod_max_rps=40.0, push_at=0.9, noise_sd=2.0)   # two deviations
    rate = pushed_rate(None, 1.0, Pressure(0, busy), ready, rule)
    assert (rate is not None) is pushed
    if pushed:
        # the lower bound: the estimate less the margin (a second past it is likely noise)
        mark = 0.9 * 0.8 * 40.0 * ready
        assert rate == pytest.approx(busy * ready * 40.0 - 2.0 * mark ** 0.5)


def test_no_push_without_ready_replicas_to_measure_against():
    assert pushed_rate(None, 1.0, Pressure(0, 1.0), 0, RULE) is None


def test_the_busy_mark_is_push_at_of_the_slo_capacity():
    assert RULE.busy_at == pytest.approx(0.72)
    assert PushRule(40.0, 0.8, push_at=1.25).busy_at == pytest.approx(1.0)
    # live, a little above the share the policy sizes for, and 1.5 deviations past it
    # (chosen on the noisy simulator: docs/simulation.md)
    assert (PushRule(40.0).push_at, PushRule(40.0).noise_sd) == (0.92, 1.5)


class SaidPressure:
    name = "said"

    def __init__(self, *said: Pressure) -> None:
        self.said = list(said)

    def pressure(self) -> Pressure:
        return self.said.pop(0)

    def waiting(self) -> int | None:
        return self.pressure().waiting


def test_busy_workers_are_heard_as_a_push_with_the_arrivals_they_imply():
    clock = SteppedClock()
    source = SaidPressure(Pressure(0, 0.4), Pressure(0, 0.95), Pressure(0, 0.96),
                          Pressure(None, None))
    push = BacklogPush(source, lambda: ReplicaCounts(3, 3, 1, 1), pod_max_rps=40.0,
                       clock=clock, wall_clock=lambda: 7000.0, noise_sd=0.0)
    assert push.heard(SCRAPED) is None           # 40 % busy: well within the SLO
    clock.now += 1.0
    pushed = push.heard(SCRAPED)
    assert pushed is not None and pushed.pushed
    assert pushed.request_rate == pytest.approx(0.95 * 3 * 40.0)
    assert (pushed.at_s, pushed.web_ready, pushed.latency_within_slo) == (7000.0, 3, False)
    clock.now += 1.0
    assert push.heard(SCRAPED) is None           # staying busy is not a new push
    clock.now += 1.0
    assert push.heard(SCRAPED) is None           # nothing known: nothing heard


def test_busy_workers_of_resized_pods_are_arrivals_at_their_size():
    """Pods resized to 2x run twice the workers: all busy is twice the arrivals."""
    source = SaidPressure(Pressure(0, 0.5), Pressure(0, 1.0))
    push = BacklogPush(source, lambda: ReplicaCounts(3, 3, 1, 1), pod_max_rps=40.0,
                       clock=SteppedClock(), noise_sd=0.0)
    push.pod_size = lambda: 2.0
    assert push.heard(SCRAPED) is None
    push.clock.now += 1.0
    assert push.heard(SCRAPED).request_rate == pytest.approx(1.0 * 3 * 2.0 * 40.0)


def test_the_controller_tells_the_push_the_size_it_gave_the_pods():
    from scaler.controller import Controller, ControllerSettings

    class Listening:
        period_s = 15
        listens_for_push = True

    push = BacklogPush(SaidPressure(), lambda: ReplicaCounts(1, 1, 1, 1), pod_max_rps=40.0)
    controller = Controller(None, Listening(), None, ControllerSettings(), push=push)
    assert push.pod_size() == 1.0
    controller.web_pod_size = 1.5          # as _resize_web records a resize
    assert push.pod_size() == 1.5


# --- the rule's shape, as one table: judge_arrivals is what the simulator's pods run too ---

# 10 ready replicas: the mark (0.9 of 320/s SLO capacity) is 288/s; a margin of 2
# deviations of a 1 s mean at the mark is 2 x sqrt(288) ~ 33.9/s: a threshold of ~321.9/s.
SHAPE = PushRule(pod_max_rps=40.0, push_at=0.9, noise_sd=2.0)
MARGIN = 2.0 * 288.0 ** 0.5


@pytest.mark.parametrize(("arrivals", "pushed", "verdict"), [
    (280.0, None, PushVerdict(None, None)),                  # below the mark: quiet
    (300.0, None, PushVerdict(None, None)),                  # past the mark, within noise
    (325.0, None, PushVerdict(325.0 - MARGIN, 325.0)),       # past the threshold: a push
    (330.0, 325.0, PushVerdict(None, 325.0)),                # staying: heard already
    (345.0, 325.0, PushVerdict(345.0 - MARGIN, 345.0)),      # 5 % more: pushed again
    (300.0, 325.0, PushVerdict(None, 325.0)),                # a dip above the mark: same crowd
    (280.0, 325.0, PushVerdict(None, None)),                 # below the mark: the episode ends
    (None, 325.0, PushVerdict(None, 325.0)),                 # nothing said: nothing changes
])
def test_judge_arrivals_table(arrivals, pushed, verdict):
    heard = judge_arrivals(arrivals, 10, SHAPE, pushed)
    assert heard.pushed_low == (None if verdict.pushed_low is None
                                else pytest.approx(verdict.pushed_low))
    assert heard.rate == (None if verdict.rate is None else pytest.approx(verdict.rate))


def test_a_mean_of_seconds_in_a_row_must_pass_before_the_live_push_is_heard():
    """mean_of 2, confirm_s 2: three samples make the first pair of means; a sample that
    says nothing starts the count over (a rise to 400/s, 5 % past the 380/s pushed, is
    heard three samples after it)."""
    said = [Pressure(0, 0.95)] * 3 + [Pressure(None)] + [Pressure(0, 1.0)] * 3
    push = BacklogPush(SaidPressure(*said), lambda: ReplicaCounts(10, 10, 1, 1),
                       pod_max_rps=40.0, clock=SteppedClock(), push_at=0.9, noise_sd=1.0,
                       mean_of=2, confirm_s=2)
    heard = []
    for _ in said:
        heard.append(push.heard(SCRAPED) is not None)
        push.clock.now += 1.0
    assert heard == [False, False, True, False, False, False, True]
    # 380/s against 288 + sqrt(288 / 2) = 300/s: pushed at the lower bound, 368/s
    again = BacklogPush(SaidPressure(*[Pressure(0, 0.95)] * 3), lambda: ReplicaCounts(
        10, 10, 1, 1), pod_max_rps=40.0, clock=SteppedClock(), push_at=0.9, noise_sd=1.0,
        mean_of=2, confirm_s=2)
    again.heard(SCRAPED), again.heard(SCRAPED)
    assert again.heard(SCRAPED).request_rate == pytest.approx(380.0 - (288.0 / 2) ** 0.5)


# The longer look: the mean of 5 s past the mark by 2 deviations of such a mean, 2 x
# sqrt(288 / 5) ~ 15.2/s: a rise to 305/s hides in a second's noise, not in 5 s of it.
LONGER = PushRule(pod_max_rps=40.0, push_at=0.9, noise_sd=2.0, long_mean_of=5)
LONG_MARGIN = 2.0 * (288.0 / 5) ** 0.5


@pytest.mark.parametrize(("second", "five", "pushed", "verdict"), [
    (300.0, 300.0, None, PushVerdict(None, None)),                  # within both margins
    (300.0, 305.0, None, PushVerdict(305.0 - LONG_MARGIN, 305.0)),  # the longer look hears it
    (330.0, 305.0, None, PushVerdict(330.0 - MARGIN, 330.0)),       # the second first
    (310.0, 310.0, 305.0, PushVerdict(None, 305.0)),                # staying
    (280.0, 310.0, 305.0, PushVerdict(None, 305.0)),                # 5 s still past: same crowd
    (280.0, 295.0, 305.0, PushVerdict(None, None)),                 # below the mark: over
    (300.0, None, None, PushVerdict(None, None)),                   # 5 s not known yet
])
def test_judge_arrivals_with_a_longer_look_table(second, five, pushed, verdict):
    heard = judge_arrivals(second, 10, LONGER, pushed, five)
    assert heard.pushed_low == (None if verdict.pushed_low is None
                                else pytest.approx(verdict.pushed_low))
    assert heard.rate == (None if verdict.rate is None else pytest.approx(verdict.rate))


def test_without_a_longer_look_its_threshold_is_never_reached():
    assert SHAPE.long_threshold(10) == float("inf")
    assert judge_arrivals(300.0, 10, SHAPE, None, 10_000.0) == PushVerdict(None, None)
