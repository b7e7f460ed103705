"""How many visits/s one Locust process can offer on this machine, so ops know how many Locust
workers a target rate needs.

Runs a trivially fast target (a hello-world WSGI app under gunicorn) and one headless Locust
process (`loadtests/calibrate.py`: paced users, one GET per visit) whose offered rate climbs in
steps. For each step it prints offered vs started vs dropped arrivals, the achieved request
rate, and the CPU both sides burnt (from /proc), side by side:

    python -m benchmarks.locust_capacity [--steps 100,200,400,800,1200] [--step-s 12]

A Locust process is the bottleneck when it nears 100% of one core while the target still has
headroom; `visits/s per Locust core` is the figure to size a distributed swarm with.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtests.processes import tree_cpu_seconds
from tests.support.servers import free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent
SETTLE_S = 3  # seconds at the start of each step left out while users are spawned


def hello_app(environ, start_response):
    """The target: as little work per request as a WSGI server allows."""
    body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [body]


def run(steps: list[int], step_s: float,
        target_workers: int) -> tuple[float | None, list[dict]]:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="locust-capacity-"))
    timeline = workdir / "timeline.jsonl"
    # Threaded workers keep connections alive, so the target spends its time on requests,
    # not on TCP handshakes: it must be much faster than the load generator it measures.
    target = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(Path(__file__).parent), "-w",
         str(target_workers), "-k", "gthread", "--threads", "8", "--keep-alive", "30",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "locust_capacity:hello_app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    locust = None
    samples: list[tuple[float, float, float]] = []
    try:
        wait_for_port(port)
        target_alone = wrk_rps(port)
        with (workdir / "locust.log").open("w") as log:
            locust = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", str(REPO / "loadtests" / "calibrate.py"),
                 "--host", f"http://127.0.0.1:{port}", "--headless", "--only-summary",
                 "--steps", ",".join(map(str, steps)), "--step-s", str(step_s),
                 "--pacing", "1", "--timeline-file", str(timeline), "--stop-timeout", "5"],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        while locust.poll() is None:
            samples.append((time.time(), tree_cpu_seconds(locust.pid),
                            tree_cpu_seconds(target.pid)))
            time.sleep(1.0)
    finally:
        for process in (locust, target):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
    rows = [json.loads(line) for line in timeline.read_text().splitlines()]
    seconds = [row for row in rows if "epoch" in row]
    return target_alone, summarise(steps, step_s, seconds, samples)


def wrk_rps(port: int, seconds: int = 8) -> float | None:
    """The target's own capacity, measured by wrk (a C load generator) when installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    output = subprocess.run([wrk, "-t2", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, timeout=seconds + 30).stdout
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def summarise(steps, step_s, seconds, samples) -> list[dict]:
    """One row per step from the per-second timeline and the CPU samples."""
    if not seconds:
        raise RuntimeError("Locust wrote no timeline: see its log")
    start = seconds[0]["epoch"]
    table = []
    for index, rate in enumerate(steps):
        low, high = start + index * step_s + SETTLE_S, start + (index + 1) * step_s
        window = [row for row in seconds if low <= row["epoch"] < high]
        cpu = [sample for sample in samples if low <= sample[0] < high]
        if not window or len(cpu) < 2:
            continue
        span = cpu[-1][0] - cpu[0][0]
        locust_cpu = (cpu[-1][1] - cpu[0][1]) / span
        target_cpu = (cpu[-1][2] - cpu[0][2]) / span
        offered = sum(row["offered"] for row in window) / len(window)
        started = sum(row["started"] for row in window) / len(window)
        dropped = sum(row["dropped"] for row in window)
        late = sum(row.get("late", 0) for row in window)
        requests = sum(row["requests"] for row in window) / len(window)
        p95 = max((row["p95_s"] or 0.0) for row in window)
        table.append({"asked": rate, "offered": offered, "started": started,
                      "dropped_pct": 100.0 * dropped / max(1, sum(r["offered"] for r in window)),
                      "late_pct": 100.0 * late / max(1, sum(r["started"] for r in window)),
                      "achieved_rps": requests, "p95_ms": 1000 * p95,
                      "locust_cpu_pct": 100 * locust_cpu, "target_cpu_pct": 100 * target_cpu,
                      "locust_ms_per_visit": 1000 * locust_cpu / max(started, 1e-9),
                      "target_ms_per_request": 1000 * target_cpu / max(requests, 1e-9)})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="100,200,400,800,1200,1600")
    parser.add_argument("--step-s", type=float, default=12.0)
    parser.add_argument("--target-workers", type=int, default=2)
    args = parser.parse_args()
    steps = [int(step) for step in args.steps.split(",")]
    target_alone, table = run(steps, args.step_s, args.target_workers)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; target: "
          f"hello-world WSGI, gunicorn {args.target_workers} gthread worker(s)")
    print("target alone (wrk, 32 connections): "
          + (f"{target_alone:.0f} requests/s" if target_alone else "wrk not installed"))
    print("one Locust process, FastHttpUser, paced users (1 s), one GET per visit:\n")
    header = ("asked/s", "offered/s", "started/s", "late%", "dropped%", "achieved/s",
              "p95 ms", "Locust CPU%", "target CPU%", "Locust ms/v", "target ms/r")
    print(" | ".join(f"{name:>11}" for name in header))
    for row in table:
        print(" | ".join(f"{value:>11.1f}" for value in (
            row["asked"], row["offered"], row["started"], row["late_pct"], row["dropped_pct"],
            row["achieved_rps"], row["p95_ms"], row["locust_cpu_pct"], row["target_cpu_pct"],
            row["locust_ms_per_visit"], row["target_ms_per_request"])))
    # Locust is keeping up while its arrivals start on time (not late) and none is dropped.
    unsaturated = [row for row in table if row["locust_cpu_pct"] < 90 and row["dropped_pct"] < 1
                   and row["late_pct"] < 1]
    if unsaturated:
        cost = sorted(row["locust_ms_per_visit"] for row in unsaturated)[len(unsaturated) // 2]
        print(f"\nLocust CPU per visit (median of unsaturated steps): {cost:.2f} ms -> about "
              f"{800 / cost:.0f} visits/s per Locust process at 80% of a core")
        print(f"highest step served without drops: {max(r['started'] for r in unsaturated):.0f}"
              " visits/s")


if __name__ == "__main__":
    main()
