"""The live loop with the shop's own events: real gunicorn storefront, the scaler as a
process, real HTTP. A merchant announces a launch through the API; the scaler reads it from
the shop, records its plan there and adds web workers before the crowd, although its traffic
signal (the storefront's /metrics) disappeared before the event was announced.

The /metrics the scaler reads goes through a small loopback relay in the test, so the test
can take the signal away without stopping the storefront.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
import requests

from tests.scaler.live_fixtures import wait_until
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow
OPS_TOKEN = "live-events-ops-token"


class MetricsRelay:
    """GET /metrics relayed to the storefront until `close()`: then the port is gone."""

    def __init__(self, upstream: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                answer = requests.get(upstream + self.path, timeout=5)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def storefront(database_url, redis_server, tmp_path):
    server = LiveServer.start(database_url=database_url, redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=1,
                              extra_env={"PEAKSHOP_OPS_TOKEN": OPS_TOKEN})
    yield server
    server.stop()


def web_workers(pidfile: str) -> int:
    return len(psutil.Process(int(Path(pidfile).read_text())).children())


def test_an_announced_event_is_planned_live_and_holds_when_the_traffic_signal_goes(
        storefront, database_url, redis_server, tmp_path):
    signup = requests.post(f"{storefront.url}/api/v1/merchants", json={
        "name": "Lumen Lights", "email": "owner@lumen.example", "password": "a long passphrase"})
    assert signup.status_code == 201, signup.text
    slug, auth = signup.json()["merchant"]["slug"], {
        "Authorization": f"Bearer {signup.json()['token']}"}
    relay = MetricsRelay(storefront.url)
    log_path = tmp_path / "scaler.log"
    env = {**os.environ, "PEAKSHOP_OPS_TOKEN": OPS_TOKEN, "PEAKSHOP_DATABASE_URL": database_url,
           "PEAKSHOP_REDIS_URL": redis_server.url, "PEAKSHOP_SECRET_KEY": "live-test-secret",
           "PEAKSHOP_INSTANCE_PATH": str(tmp_path / "live")}
    with open(log_path, "w") as log:
        scaler = subprocess.Popen(
            [sys.executable, "-m", "peakshop.cli", "scaler", "run", "--target", "local",
             "--gunicorn-pidfile", storefront.pidfile, "--metrics-url", relay.url + "/metrics",
             "--events-from", storefront.url, "--events-poll-s", "1", "--period", "1",
             "--min-replicas", "1", "--max-replicas", "4", "--scaler-metrics-port", "0"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "scaler running" in log_path.read_text(), 60, what="scaler start")
        time.sleep(3)   # a few rounds with the signal
        relay.close()   # then the traffic signal disappears, before anyone announces anything
        wait_until(lambda: "web signal missing" in log_path.read_text(), 30,
                   what="the scaler noticing the missing signal")
        starts_at = (dt.datetime.now(dt.timezone(dt.timedelta(hours=-5)))
                     + dt.timedelta(minutes=2))
        created = requests.post(f"{storefront.url}/api/v1/shops/{slug}/events", headers=auth,
                                json={"name": "Collection launch",
                                      "starts_at": starts_at.isoformat(timespec="seconds"),
                                      "duration_min": 20, "expected_peak_rps": 400})
        assert created.status_code == 201, created.text

        def scaler_plan():
            items = requests.get(f"{storefront.url}/api/v1/shops/{slug}/events",
                                 headers=auth).json()["items"]
            plan = items[0]["planned_capacity"]
            return plan if plan and plan["source"] == "scaler" else None

        # Without a traffic signal the scaler still follows the event's plan.
        plan = wait_until(scaler_plan, 60, what="the scaler's plan recorded on the event")
        assert 1 < plan["web_replicas"] <= 4, plan
        wait_until(lambda: web_workers(storefront.pidfile) == plan["web_replicas"], 60,
                   what=f"{plan['web_replicas']} web workers")
        assert dt.datetime.now(dt.UTC) < starts_at, "the workers came after the crowd"
        for _ in range(10):   # ten more periods without a signal: the plan holds
            assert web_workers(storefront.pidfile) == plan["web_replicas"]
            time.sleep(1)
        assert scaler.poll() is None, log_path.read_text()[-2000:]
    finally:
        relay.server.server_close()
        scaler.terminate()
        scaler.wait(timeout=60)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]
