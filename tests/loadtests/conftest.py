"""The storefront as production runs it (gunicorn, real Redis and database) for the load tests,
and a helper that runs Locust headless against it in a separate process.

Locust is never imported here: importing it monkey-patches the standard library through
gevent, which would change every other test of the session. It runs as `python -m locust`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "loadtests" / "locustfile.py"


@dataclass
class Storefront:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def start_storefront(database_url: str, redis_url: str, folder: Path,
                     workers: int = 2) -> Storefront:
    """`peakshop serve` (gunicorn) on a free loopback port, ready to take requests."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PEAKSHOP_DATABASE_URL": database_url, "PEAKSHOP_REDIS_URL": redis_url,
           "PEAKSHOP_SECRET_KEY": "load-test-secret", "PEAKSHOP_INSTANCE_PATH": str(folder),
           "PEAKSHOP_BIND": f"127.0.0.1:{port}", "PEAKSHOP_WEB_WORKERS": str(workers),
           "PEAKSHOP_PIDFILE": str(folder / "gunicorn.pid"),
           "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
           "XDG_RUNTIME_DIR": str(folder)}
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "peakshop.cli", "serve"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Storefront(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"peakshop serve exited:\n{server.log()}")
        try:
            if requests.get(server.url + "/readyz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    stop_storefront(server)
    pytest.fail(f"peakshop serve was not ready after 60 s:\n{server.log()}")


def stop_storefront(server: Storefront) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture
def storefront(database_url, redis_server, redis_client, tmp_path):
    """The storefront under gunicorn on each database backend, with an empty Redis."""
    server = start_storefront(database_url, redis_server.url, tmp_path / "instance")
    yield server
    stop_storefront(server)


@dataclass
class LocustRun:
    returncode: int
    output: str
    totals: dict
    rows: list[dict]
    stats: dict[str, dict]      # "METHOD name" -> Locust's row of locust_stats.csv
    orders: list[dict]


def run_locust(host: str, folder: Path, *arguments: str, env: dict | None = None,
               timeout_s: float = 120) -> LocustRun:
    """`locust -f loadtests/locustfile.py --headless ...`, with its timeline and stats read."""
    folder.mkdir(parents=True, exist_ok=True)
    timeline, orders = folder / "timeline.jsonl", folder / "orders.jsonl"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host,
               "--headless", "--only-summary", "--stop-timeout", "20",
               "--timeline-file", str(timeline), "--orders-file", str(orders),
               "--csv", str(folder / "locust"), *arguments]
    completed = subprocess.run(command, cwd=REPO, env={**os.environ, **(env or {})},
                               capture_output=True, text=True, timeout=timeout_s)
    rows, totals = [], {}
    if timeline.exists():
        for line in timeline.read_text().splitlines():
            row = json.loads(line)
            if "totals" in row:
                totals = row["totals"]
            else:
                rows.append(row)
    stats = {}
    stats_file = folder / "locust_stats.csv"
    if stats_file.exists():
        import csv

        with stats_file.open() as handle:
            for row in csv.DictReader(handle):
                stats[f"{row['Type']} {row['Name']}"] = row
    placed = ([json.loads(line) for line in orders.read_text().splitlines()]
              if orders.exists() else [])
    return LocustRun(completed.returncode, completed.stdout + completed.stderr, totals, rows,
                     stats, placed)
