"""The surge, the rehearsal's --waiting-room option, and the waiting room's report fields."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
import requests

from loadtests.arrivals import Tally, is_waiting_answer, percentile_s
from loadtests.rehearse import BadArgument, build_settings
from loadtests.report import (
    SloSettings,
    build_timeline,
    eta_accuracy,
    read_csv,
    summarize,
    write_csv,
    write_plot,
)
from loadtests.trace import SPAWN_RATE, ReplaySettings, build_replay
from tests.loadtests.test_locustfile import sqlite_storefront  # noqa: F401 (a fixture)
from tests.loadtests.test_rehearse import rehearse

SLO = SloSettings(latency_p95_s=0.5, queue_age_s=60)


def test_the_surge_is_unannounced_and_several_times_the_baseline():
    replay = build_replay(ReplaySettings("surge"))
    assert replay.duration_s == 150
    baseline, peak = replay.rates[:30].mean(), replay.rates[40:85].mean()
    assert 14 < baseline < 16 and 115 < peak < 125
    assert replay.rates[34] / replay.rates[29] > 6        # within 5 seconds
    # Locust must add the crowd within those seconds, not at its default 100 users/s.
    users, spawn_rate = replay.tick(31.0, pacing_s=10)
    assert spawn_rate > SPAWN_RATE and users > 300
    assert build_replay(ReplaySettings("flash-sale")).tick(0, 10)[1] == SPAWN_RATE


def test_the_surge_shape_is_a_locust_shape():
    # In a process of its own: importing Locust monkey-patches the standard library.
    check = ("from loadtests.shapes import Surge, TraceShape; "
             "assert issubclass(Surge, TraceShape) and Surge.trace == 'surge'")
    completed = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(("mode", "rate", "message"), [
    ("off", 5.0, "--admit-per-s is the rate of --waiting-room on"),
    ("auto", 5.0, "--admit-per-s is the rate of --waiting-room on"),
    ("on", 0.0, "--admit-per-s must be a number above 0"),
    ("on", float("nan"), "--admit-per-s must be a number above 0"),
])
def test_bad_waiting_room_flags_are_refused(tmp_path, mode, rate, message):
    with pytest.raises(BadArgument, match=message):
        build_settings("surge", True, str(tmp_path / "r"), None, None, None, 0.5, 60, 10,
                       waiting_room=mode, admit_per_s=rate)


def test_waiting_room_flags_reach_the_settings(tmp_path):
    settings, _ = build_settings("surge", True, str(tmp_path / "r"), None, None, None, 0.5, 60,
                                 10, waiting_room="on", admit_per_s=40.0)
    assert (settings.waiting_room, settings.admit_per_s) == ("on", 40.0)
    default, _ = build_settings("surge", True, str(tmp_path / "d"), None, None, None, 0.5, 60,
                                10)
    assert default.waiting_room == "off"


def test_an_unknown_mode_is_one_line_and_status_2():
    completed = rehearse("--trace", "surge", "--waiting-room", "sideways")
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "sideways" in lines[0], completed.stderr


@pytest.mark.parametrize(("pairs", "expected"), [
    ({}, {"visitors": 0, "abs_error_median_s": None, "abs_error_p90_s": None}),
    ({"10:10": 5}, {"visitors": 5, "abs_error_median_s": 0.0, "abs_error_p90_s": 0.0,
                    "signed_error_median_s": 0.0, "relative_error_median": 0.0}),
    # Nine visitors told 20 s waited 22 s; one told 20 s waited 60 s.
    ({"20:22": 9, "20:60": 1}, {"visitors": 10, "abs_error_median_s": 2.0,
                                "abs_error_p90_s": 2.0, "signed_error_median_s": 2.0,
                                "median_predicted_s": 20.0, "median_actual_s": 22.0}),
    ({"30:10": 1, "30:20": 1, "30:30": 1, "30:40": 1, "30:50": 1},
     {"abs_error_median_s": 10.0, "abs_error_p90_s": 20.0, "signed_error_median_s": 0.0}),
])
def test_eta_accuracy_is_actual_against_predicted(pairs, expected):
    accuracy = eta_accuracy(pairs)
    for key, value in expected.items():
        assert accuracy[key] == value, key


def test_waiting_answers_are_told_apart_from_served_requests():
    class Answer:
        def __init__(self, status, headers):
            self.status_code, self.headers = status, headers

    assert is_waiting_answer(Answer(503, {"Peakshop-Waiting-Room-Position": "3"}))
    assert not is_waiting_answer(Answer(503, {"Retry-After": "5"}))   # shed: an error
    # Shed just after being let in: it carries the pass, and it is still a failure.
    assert not is_waiting_answer(Answer(503, {"Peakshop-Waiting-Room": "pass"}))
    assert not is_waiting_answer(Answer(200, {"Peakshop-Waiting-Room": "pass"}))
    assert not is_waiting_answer(None)


def test_a_tally_carries_the_room_between_locust_processes():
    tally = Tally(in_line=3, waiting_answers=7, admitted_from_line=2, predicted_wait_ms=4000,
                  actual_wait_ms=5000, eta_pairs=Counter({"2:3": 1, "2:2": 1}))
    again = Tally.from_json(json.loads(json.dumps(tally.to_json())))
    assert again == tally
    again.add(tally)
    assert again.eta_pairs == Counter({"2:3": 2, "2:2": 2}) and again.in_line == 6


def _rows_with_a_room():
    locust_rows = []
    for second in range(6):
        tally = Tally(started=10, visits_ok=9, requests=12,
                      latencies_ms=Counter({20: 10, 300: 2}))
        if second >= 2:
            tally.in_line, tally.waiting_answers = 4, 6
            tally.admitted_from_line, tally.predicted_wait_ms, tally.actual_wait_ms = 2, 8000, 9000
            tally.eta_pairs = Counter({"4:4": 1, "4:5": 1})
        # A line of the timeline file as loadtests.recorder writes it (that module imports
        # Locust, which must not be imported into the test session).
        locust_rows.append(tally.to_json() | {
            "epoch": 1000 + second, "users": 100, "target_rps": 10.0,
            "offered": tally.offered, "p50_s": percentile_s(tally.latencies_ms, 0.5),
            "p95_s": percentile_s(tally.latencies_ms, 0.95)})
    room = {1000 + second: {"open": second >= 2, "admitting_per_s": 3.0,
                            "line_length": 5 * second} for second in range(6)}
    return locust_rows, room


def test_the_report_shows_the_room_second_by_second_and_in_the_summary(tmp_path):
    locust_rows, room = _rows_with_a_room()
    rows = build_timeline(locust_rows, [], room)
    assert [row.room_line for row in rows] == [0, 5, 10, 15, 20, 25]
    assert rows[3].predicted_wait_s == 4.0 and rows[3].actual_wait_s == 4.5
    assert rows[0].predicted_wait_s is None
    totals = {"in_line": 16, "admitted_from_line": 8, "waiting_answers": 24,
              "waiting_answers_without_eta": 0, "eta_pairs": {"4:4": 4, "4:5": 4}}
    summary = summarize(rows, totals, SLO, orders={}, run={})["waiting_room"]
    assert summary["visitors_in_line"] == 16 and summary["admitted_from_line"] == 8
    assert summary["seconds_room_open"] == 4 and summary["max_line_length"] == 25
    assert summary["seconds_with_admitted_p95_within_slo"] == 6
    assert summary["seconds_with_admitted_requests"] == 6
    assert summary["not_let_in_before_the_end"] == 8
    assert summary["eta"]["abs_error_p90_s"] == 1.0
    write_csv(rows, tmp_path / "timeline.csv")
    assert read_csv(tmp_path / "timeline.csv") == rows
    write_plot(rows, SLO, tmp_path / "timeline.png", "with a room")
    assert (tmp_path / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def shop_with_room_on(url: str, admit_per_s: float):
    """A demo shop seeded through the API, its waiting room `on` at `admit_per_s`."""
    from loadtests.seed import seed_demo_shop

    shop = seed_demo_shop(url, products=6)
    switched = requests.put(f"{url}/api/v1/shops/{shop.slug}/waiting-room",
                            json={"mode": "on", "admit_per_s": admit_per_s},
                            headers={"Authorization": f"Bearer {shop.merchant_token}"},
                            timeout=10)
    assert switched.status_code == 200
    return shop


def test_shoppers_wait_in_line_and_are_let_in_without_a_failure(sqlite_storefront,  # noqa: F811
                                                                 tmp_path):
    """Real Locust against gunicorn with the room on at 3 visitors/s and 20 visits/s
    arriving: visits wait in line, are let in in turn, and nothing counts as a failure."""
    from tests.loadtests.conftest import run_locust
    from tests.loadtests.test_locustfile import assert_clean

    shop = shop_with_room_on(sqlite_storefront.url, admit_per_s=3)
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "ShopperUser", "--tags",
                     "browse", "-u", "20", "-r", "20", "--pacing", "1", "--run-time", "12s",
                     env={"LOCUST_SHOP": shop.slug})
    assert_clean(run)
    totals = run.totals
    assert totals["in_line"] > 0 and totals["waiting_answers"] >= totals["in_line"]
    assert totals["waiting_answers_without_eta"] == 0
    assert totals["admitted_from_line"] > 0
    assert sum(totals["eta_pairs"].values()) == totals["admitted_from_line"]
    # Waiting answers are not served requests: no 503 reached the latency figures.
    assert not any(name.startswith("GET") and row["Failure Count"] != "0"
                   for name, row in run.stats.items())


def test_the_gate_flag_reaches_the_settings(tmp_path):
    settings, _ = build_settings("surge", True, str(tmp_path / "r"), None, None, None, 0.5, 60,
                                 10, waiting_room="auto", gate=True)
    assert settings.gate is True
    assert build_settings("surge", True, str(tmp_path / "d"), None, None, None, 0.5, 60,
                          10)[0].gate is False


@pytest.mark.slow
def test_a_short_rehearsal_behind_the_gate(tmp_path):
    """The same rehearsal with `--gate`: the line is answered by the gate in front of
    gunicorn, every waiting shopper sees a place and an ETA, and no order is lost."""
    trace = tmp_path / "short.csv"
    trace.write_text("second,rps\n" + "".join(f"{s},12\n" for s in range(20)))
    report = tmp_path / "report"
    completed = rehearse("--trace", str(trace), "--report", str(report), "--no-scaler",
                         "--waiting-room", "on", "--admit-per-s", "4", "--gate",
                         "--drain-timeout", "120")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["gate"] is True and summary["errors"] == 0
    assert summary["orders_confirmed"] == summary["orders_placed"]
    room = summary["waiting_room"]
    assert room["visitors_in_line"] > 0, room
    assert room["waiting_answers_without_position_or_eta"] == 0


def test_a_thinning_crowd_leaves_its_visitors_in_line(sqlite_storefront, tmp_path):  # noqa: F811
    """Real Locust: 20 visits a second for two seconds, then one (the shape stops 19 of its
    20 users), against a room `on` at 5 visitors/s. The ~35 visits told to wait in those two
    seconds wait on after their users stop, and are let in in turn; when a stopped user took
    its visitors out of the line, a handful were let in from it at most."""
    from tests.loadtests.conftest import run_locust

    shop = shop_with_room_on(sqlite_storefront.url, admit_per_s=5)
    trace = tmp_path / "thinning.csv"
    trace.write_text("second,rps\n" + "".join(
        f"{second},{20 if second < 2 else 1}\n" for second in range(16)))
    run = run_locust(sqlite_storefront.url, tmp_path / "run", "ShopperUser", "--tags",
                     "browse", "--trace", str(trace), "--pacing", "1",
                     env={"LOCUST_SHOP": shop.slug})
    assert run.returncode == 0, run.output[-3000:]
    totals = run.totals
    assert totals["in_line"] >= 25, totals
    assert totals["admitted_from_line"] >= 20, totals
