"""The waiting room in the simulator: the line's arithmetic on small hand-made traces, the
reaction seconds, what a policy observes with the room, and that the room off changes
nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from scaler.model import Decision, Reason, ScalingDecision
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.command import simulate as simulate_command
from scaler.simulate.engine import run_closed_loop
from scaler.simulate.metrics import measure
from scaler.simulate.room import (
    RoomTally,
    line_after,
    mean_line,
    react_violations,
    refreshes,
    room_capacity,
)
from scaler.simulate.trace import trace_from_rates

# One pod serves 32 requests/s within the SLO (40 x 0.8).
POD = 32.0


@pytest.mark.parametrize(("arrivals", "capacity", "line"), [
    ([10, 10, 10], [32, 32, 32], [0, 0, 0]),                 # no crowd, no line
    ([50, 50, 10, 10], [32, 32, 32, 32], [18, 36, 14, 0]),   # FIFO: the line goes first
    ([40, 0, 40], [32, 32, 32], [8, 0, 8]),
    ([100, 0, 0, 0], [32, 32, 32, 32], [68, 36, 4, 0]),
])
def test_the_line_holds_what_capacity_cannot_serve_and_drains_first(arrivals, capacity,
                                                                    line):
    assert line_after(np.array(arrivals, float), np.array(capacity, float)).tolist() == line


def test_the_room_lets_in_whole_pods_worth_as_a_second_is_judged():
    # 2.5 pods ready serve 2 pods' worth within the SLO: 65 requests/s need 3 pods, a miss.
    assert room_capacity([2.0, 2.5, 2.999], POD).round(6).tolist() == [64.0, 64.0, 64.0]
    assert room_capacity([3.0], POD).round(6).tolist() == [96.0]


@pytest.mark.parametrize(("line", "react_s", "missed"), [
    ([0, 5, 5, 5, 0, 0, 3, 0], 2, [0, 1, 1, 0, 0, 0, 1, 0]),   # each episode, its first 2 s
    ([0, 5, 5, 5, 0], 0, [0, 0, 0, 0, 0]),                     # a room that holds at once
    ([0, 5, 5, 5, 5], 10, [0, 1, 1, 1, 1]),
])
def test_an_overload_that_starts_with_no_line_costs_the_reaction_seconds(line, react_s,
                                                                        missed):
    got, _ = react_violations(np.array(line, float), react_s)
    assert got.astype(int).tolist() == missed


def test_an_episode_carried_from_the_part_before_keeps_counting():
    first, into = react_violations(np.array([0, 4.0]), 3)
    second, after = react_violations(np.array([4.0, 4.0, 4.0, 0.0]), 3, into)
    assert first.tolist() == [False, True] and into == 1
    assert second.tolist() == [True, True, False, False] and after == 0


def test_the_waiting_figures_of_a_hand_made_crowd():
    # 100 arrive in the first second at one pod's 32/s: 32 in at once, the rest wait.
    tally = RoomTally(POD, react_s=2)
    missed = tally.add(0, np.array([100.0, 0, 0, 0, 0]), np.ones(5))
    figures = tally.figures()
    assert missed.tolist() == [True, True, False, False, False]
    assert figures.visitors_waited == 68
    assert figures.visitor_seconds_waited == 68 + 36 + 4
    assert figures.longest_wait_s == 3          # the last of second 0 is let in at second 3
    assert figures.p90_wait_s == 3
    assert figures.overload_episodes == 1 and figures.react_violation_seconds == 2


def test_the_figures_do_not_depend_on_where_the_trace_is_cut():
    rng = np.random.default_rng(3)
    arrivals = rng.uniform(0, 80, 400)
    capacity = rng.integers(1, 3, 400).astype(float)
    whole, parts = RoomTally(POD, 2), RoomTally(POD, 2)
    missed_whole = whole.add(0, arrivals, capacity)
    missed_parts = np.concatenate([parts.add(start, arrivals[start:start + 37],
                                             capacity[start:start + 37])
                                   for start in range(0, 400, 37)])
    assert missed_parts.tolist() == missed_whole.tolist()
    assert parts.figures() == whole.figures()


def test_refreshes_follow_the_retry_after_of_the_live_line():
    # Positions within 4 s of their turn ask every 2 s; past 120 s, every 60 s.
    assert refreshes(0.0, 10.0) == 0.0
    assert refreshes(20.0, 10.0) == pytest.approx(10.0)
    assert refreshes(1200.0, 10.0) == pytest.approx(20 + 20 * np.log(30))
    assert refreshes(1800.0, 10.0) == pytest.approx(20 + 20 * np.log(30) + 600 / 60)
    assert mean_line(10.0, -2.0, 10.0) == pytest.approx(2.5)     # empties after 5 s
    assert mean_line(0.0, 3.0, 10.0) == pytest.approx(15.0)


class Recorder:
    """A policy that keeps the scale it starts with and records what it sees."""

    period_s = 15
    listens_for_push = True

    def __init__(self) -> None:
        self.seen = []

    def initial_state(self, web, workers):
        return web, workers

    def decide(self, observation, state):
        self.seen.append(observation)
        web, workers = state
        return ScalingDecision(Decision(web, Reason.REQUEST_RATE),
                               Decision(workers, Reason.REQUEST_RATE)), state


# Two pods serve 64 requests/s within the SLO; a crowd of 160/s comes for two minutes.
CROWD = trace_from_rates([40.0] * 3 + [160.0] * 2 + [40.0] * 5, step_s=60)


def observed(cluster: ClusterSettings) -> list:
    recorder = Recorder()
    run_closed_loop(CROWD, cluster, recorder)
    return recorder.seen


def test_with_the_room_cpu_sees_what_it_let_in_and_the_scrape_every_answer():
    quiet = ClusterSettings(signal_faults=0, outages_per_day=0, push=False, max_pod_size=1)
    hidden = ClusterSettings(**{**quiet.__dict__, "waiting_room": True,
                                "room_answers_counted": False})
    counted = ClusterSettings(**{**hidden.__dict__, "room_answers_counted": True})
    without, held, told = observed(quiet), observed(hidden), observed(counted)
    # Well into the crowd (the scrape of seconds 195-225): without a room CPU is saturated
    # and the rate is the crowd's; with it, both see the two pods' SLO capacity let in.
    at = next(k for k, seen in enumerate(without) if seen.at_s == 240)
    assert without[at].request_rate == pytest.approx(160.0)
    assert without[at].cpu_utilization == 1.0
    assert held[at].request_rate == pytest.approx(64.0)
    assert held[at].cpu_utilization == pytest.approx(64.0 / 80.0)
    # Counted as live: every arrival is answered, and the line asks again by Retry-After.
    assert told[at].cpu_utilization == pytest.approx(64.0 / 80.0)
    # The window's two 15 s blocks (195-210, 210-225): a line growing 96/s from 0 at 180,
    # on average 2,160 and 3,600 visitors.
    asking = (refreshes(2160.0, 64.0) + refreshes(3600.0, 64.0)) / 2
    assert told[at].request_rate == pytest.approx(160.0 + asking, rel=1e-6)
    assert asking > 64.0        # the line's refreshes outnumber what is let in
    # Within the SLO once the room holds (its reaction was in an earlier window).
    assert held[at].latency_within_slo is True
    assert without[at].latency_within_slo is False


def test_the_pods_push_hears_what_the_room_lets_in():
    pushes = [seen for seen in observed(ClusterSettings(
        signal_faults=0, outages_per_day=0, max_pod_size=1, waiting_room=True)) if seen.pushed]
    assert pushes, "the crowd must be pushed"
    # The busy workers say the two pods' SLO capacity, never the crowd behind the room.
    assert max(seen.request_rate for seen in pushes) == pytest.approx(64.0, rel=1e-6)


def test_the_room_off_changes_nothing():
    """Field by field, for every policy, the JSON without the flag, with --no-waiting-room,
    and the measure of a run with the room's settings given but off."""
    runner = CliRunner()
    trace = str(CROWD_FILE)
    for policy in ("peakshop", "hpa-cpu", "keda-queue", "oracle", "static-peak"):
        plain = runner.invoke(simulate_command, ["--trace", trace, "--policy", policy, "--json"])
        off = runner.invoke(simulate_command, ["--trace", trace, "--policy", policy, "--json",
                                               "--no-waiting-room", "--room-react-s", "7",
                                               "--room-answers-hidden"])
        assert plain.exit_code == off.exit_code == 0, plain.output + off.output
        plain_figures, off_figures = json.loads(plain.output), json.loads(off.output)
        for figures in (plain_figures, off_figures):
            del figures["simulated_in_s"]
            assert "waiting_room" not in figures
            assert "waiting_room" not in figures["settings"]
        assert plain_figures == off_figures


def test_the_room_on_reports_its_figures_and_misses_only_its_reaction():
    cluster = ClusterSettings(signal_faults=0, outages_per_day=0, waiting_room=True)
    recorder = Recorder()
    measurement = measure(CROWD, cluster, run_closed_loop(CROWD, cluster, recorder))
    # The recorder keeps two pods: one overload episode, two seconds missed, a long line.
    assert measurement.room.overload_episodes == 1
    assert measurement.web.slo_violation_seconds == 2
    # Every arrival while a line stands joins it: 96 + 119 x 160 in the crowd, then
    # 300 x 40 behind a line that has not drained by the end.
    assert measurement.room.visitors_waited == 96 + 119 * 160 + 300 * 40
    assert measurement.room.longest_wait_s > 60


@pytest.fixture(scope="module", autouse=True)
def _crowd_file(tmp_path_factory):
    global CROWD_FILE
    CROWD_FILE = tmp_path_factory.mktemp("room") / "crowd.csv"
    CROWD_FILE.write_text("minute,rps\n" + "".join(
        f"{minute},{rate}\n" for minute, rate in enumerate(CROWD.rps.tolist())))


def test_cli_prints_the_waiting_figures_and_refuses_a_bad_reaction():
    runner = CliRunner()
    shown = runner.invoke(simulate_command, ["--trace", str(CROWD_FILE), "--policy",
                                             "hpa-cpu", "--waiting-room", "--json"])
    assert shown.exit_code == 0, shown.output
    figures = json.loads(shown.output)
    assert figures["settings"]["waiting_room"] is True
    assert set(figures["waiting_room"]) == {
        "visitors_waited", "visitor_seconds_waited", "longest_wait_s", "p90_wait_s",
        "overload_episodes", "react_violation_seconds"}
    table = runner.invoke(simulate_command, ["--trace", str(CROWD_FILE), "--policy",
                                             "hpa-cpu", "--waiting-room"])
    assert "visitor_seconds_waited" in table.output
    bad = runner.invoke(simulate_command, ["--trace", str(CROWD_FILE), "--policy", "hpa-cpu",
                                           "--waiting-room", "--room-react-s", "-1"])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines()[-1] == (
        "error: --room-react-s is out of range: got -1, allowed 0 <= --room-react-s <= 3600")


def test_the_report_gives_every_policys_line(tmp_path):
    outcome = CliRunner().invoke(simulate_command, [
        "--trace", str(CROWD_FILE), "--policy", "peakshop", "--waiting-room",
        "--report", str(tmp_path)])
    assert outcome.exit_code == 0, outcome.output
    report = (tmp_path / "figures.md").read_text()
    section = report.split("## The waiting room's line")[1].split("## Simulation time")[0]
    assert "| figure | peakshop | hpa-cpu | keda-queue | static-peak | oracle |" in section
    assert "| visitors_waited |" in section
