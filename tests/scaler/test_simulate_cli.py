"""`peakshop scaler simulate` through its command line, as users and scripts call it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaler.cli import scaler
from scaler.simulate.metrics import FIGURE_KEYS
from scaler.simulate.run import POLICY_NAMES

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(scaler, ["simulate", *map(str, args)])


@pytest.fixture
def flash_sale(traces_dir) -> Path:
    return traces_dir / "flash-sale-10min.csv"


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_json_has_the_contract_keys_for_every_policy(flash_sale, policy):
    result = invoke("--trace", flash_sale, "--policy", policy, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["policy"] == policy
    assert set(FIGURE_KEYS) <= set(summary)
    for deployment in ("web", "workers"):
        assert set(FIGURE_KEYS) <= set(summary[deployment])
    assert summary["replica_seconds"] == (summary["web"]["replica_seconds"]
                                          + summary["workers"]["replica_seconds"])
    assert summary["duration_s"] == 600


def test_events_reach_the_peakshop_policy(flash_sale, traces_dir):
    without = json.loads(invoke("--trace", flash_sale, "--policy", "peakshop", "--json").stdout)
    with_events = json.loads(invoke("--trace", flash_sale, "--policy", "peakshop", "--json",
                                    "--events", traces_dir / "flash-sale-10min.events.csv").stdout)
    assert with_events["events"].endswith("flash-sale-10min.events.csv")
    assert with_events["slo_violation_seconds"] < without["slo_violation_seconds"]


def test_the_shops_events_json_drives_the_simulator_too(flash_sale, tmp_path):
    """The same JSON the shop's events API serves, placed on the trace by --season-start."""
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"items": [
        {"id": "1", "shop": "acme", "name": "collection launch",
         "starts_at": "2024-10-01T00:02:00Z", "duration_min": 7.5,
         "expected_peak_rps": 60.0, "planned_capacity": None}]}))
    result = invoke("--trace", flash_sale, "--policy", "peakshop", "--json", "--events", events,
                    "--season-start", "2024-10-01")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["slo_violation_seconds"] == 0
    unplaced = invoke("--trace", flash_sale, "--policy", "peakshop", "--events", events)
    assert unplaced.exit_code == 2
    assert "give --season-start" in unplaced.output


def test_table_without_json(flash_sale):
    result = invoke("--trace", flash_sale, "--policy", "oracle")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("policy oracle on ")
    assert lines[1].split() == ["figure", "web", "workers", "combined"]
    assert any(line.startswith("slo_violation_seconds") for line in lines)


def test_flags_change_the_cluster(flash_sale):
    default = json.loads(invoke("--trace", flash_sale, "--policy", "static-peak", "--json").stdout)
    smaller = json.loads(invoke("--trace", flash_sale, "--policy", "static-peak", "--json",
                                "--pod-max-rps", "20", "--min-replicas", "3").stdout)
    assert smaller["settings"]["pod_max_rps"] == 20.0
    assert smaller["web"]["replica_seconds"] > default["web"]["replica_seconds"]
    assert smaller["workers"]["replica_seconds"] == 3 * 600


def test_report_puts_every_policy_side_by_side(flash_sale, traces_dir, tmp_path):
    result = invoke("--trace", flash_sale, "--policy", "peakshop", "--json", "--events",
                    traces_dir / "flash-sale-10min.events.csv", "--report", tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["policy"] == "peakshop"     # stdout stays one object
    table = (tmp_path / "report" / "figures.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| figure"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == ["figure", *POLICY_NAMES]
    assert (tmp_path / "report" / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--policy", "fastest"], "unknown policy 'fastest': use --policy with one of peakshop"),
    (["--trace", "nope.csv"], "trace file not found: nope.csv"),
    (["--events", "nope.csv"], "events file not found: nope.csv"),
    (["--history", "nope.csv"], "history file not found: nope.csv"),
    (["--max-replicas", "1"], "--max-replicas is out of range"),
    # inf would turn max_queue_age_s into NaN, which is not JSON
    (["--worker-orders-per-s", "inf"], "--worker-orders-per-s is out of range"),
    (["--season-start", "1st of October"], "is not a date: write it as YYYY-MM-DD"),
    (["--arrival-noise", "-1"], "--arrival-noise is out of range: got -1.0"),
    (["--arrival-noise", "nan"], "--arrival-noise is out of range"),
    (["--push-mean-s", "0"], "--push-mean-s is out of range: got 0"),
    (["--push-confirm-s", "61"], "--push-confirm-s is out of range: got 61"),
    (["--max-pod-size", "0.5"], "got 0.5, allowed 1 <= --max-pod-size <= 16"),
    (["--report", ""], "--report is empty"),
])
def test_bad_input_is_one_line_and_exit_code_2(flash_sale, args, message):
    options = dict({"--trace": str(flash_sale), "--policy": "peakshop"},
                   **dict(zip(args[::2], args[1::2], strict=True)))
    result = invoke(*[part for pair in options.items() for part in pair])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output


def test_a_report_that_cannot_be_written_is_one_line(flash_sale, tmp_path):
    (tmp_path / "timeline.png").mkdir()  # a folder where the image goes
    result = invoke("--trace", flash_sale, "--policy", "peakshop", "--report", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot write the report" in result.stderr


def test_bad_trace_file_from_a_real_process(tmp_path):
    """The whole process, as a shell sees it: one line on stderr, exit code 2, no traceback."""
    bad = tmp_path / "bad.csv"
    bad.write_text("minute,rps\n0,12\n5,13\n")
    completed = subprocess.run(
        [sys.executable, "-m", "scaler.simulate.command", "--trace", str(bad), "--policy",
         "hpa-cpu"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [
        f"error: {bad} line 3: expected minute 1, got 5; give one row per minute, counting "
        "from 0 without gaps"]


def test_a_previous_season_aligned_by_weekday_warns_of_a_recurring_rise(tmp_path):
    # A sudden rise at minute 30 that last season also had; 2024 starts two weekdays after
    # 2023, so last season's minute 2 * 1440 + m is this season's minute m.
    this_season = tmp_path / "season-2024.csv"
    this_season.write_text("minute,rps,orders_per_s\n" + "".join(
        f"{minute},{30.0 if minute < 30 else 600.0},0.5\n" for minute in range(60)))
    last_season = tmp_path / "season-2023.csv"
    last_season.write_text("minute,rps,orders_per_s\n" + "".join(
        f"{minute},{30.0 if (minute - 2880) % 1440 < 30 else 600.0},0.5\n"
        for minute in range(2880 + 60)))
    blind = json.loads(invoke("--trace", this_season, "--policy", "peakshop", "--json").stdout)
    warned = json.loads(invoke("--trace", this_season, "--policy", "peakshop", "--json",
                               "--history", last_season).stdout)
    assert warned["history_shift_days"] == 2
    assert blind["slo_violation_seconds"] > 0
    assert warned["slo_violation_seconds"] < blind["slo_violation_seconds"]


def test_arrival_noise_is_seeded_and_said_in_the_settings(flash_sale):
    """The same seed gives the same figures; the settings say which noise was drawn."""
    def run(*extra):
        result = invoke("--trace", flash_sale, "--policy", "hpa-cpu", "--json",
                        "--arrival-noise", "1", *extra)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        summary.pop("simulated_in_s")        # how long it took, the one thing that varies
        return summary

    first, again = run(), run()
    assert first == again
    assert (first["settings"]["arrival_noise"], first["settings"]["noise_seed"]) == (1.0, 0)
    assert run("--noise-seed", "5")["settings"]["noise_seed"] == 5
