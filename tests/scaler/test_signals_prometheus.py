"""The production signal path: a real Prometheus (Debian's /usr/bin/prometheus, on loopback
with a temporary config and data folder) scraping a real storefront under gunicorn, read
through `scaler.signals.prometheus` exactly as the live scaler reads it."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from scaler.signals.errors import SignalError
from scaler.signals.prometheus import PrometheusClient, PrometheusTraffic
from tests.scaler.live_fixtures import wait_until
from tests.support.live import LiveServer
from tests.support.servers import free_port, wait_for_port

pytestmark = pytest.mark.slow

PROMETHEUS = "/usr/bin/prometheus"


@pytest.fixture
def storefront(sqlite_template, redis_server, tmp_path):
    database = tmp_path / "shop.sqlite3"
    shutil.copy(sqlite_template, database)
    server = LiveServer.start(database_url=f"sqlite:///{database}", redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=2)
    yield server
    server.stop()


@pytest.fixture
def prometheus(storefront, tmp_path):
    if not Path(PROMETHEUS).exists():
        pytest.fail("prometheus is not installed: apt-get install -y prometheus")
    target = storefront.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: storefront\n"
        f"    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, deadline_s=60)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: ready(url), what="Prometheus to be ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/-/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def steady_shoppers(url: str, stop: threading.Event) -> None:
    """About 20 requests/s to a storefront route until stopped."""
    with requests.Session() as session:
        while not stop.is_set():
            session.get(url + "/api/v1/openapi.json", timeout=10)
            stop.wait(0.05)


def test_traffic_is_read_from_a_real_prometheus(storefront, prometheus):
    client = PrometheusClient(prometheus, timeout_s=5)
    traffic = PrometheusTraffic(client, window_s=10)
    wait_until(lambda: client.query("sum(up)") == 1.0, what="Prometheus to scrape the shop")

    stop = threading.Event()
    shoppers = threading.Thread(target=steady_shoppers, args=(storefront.url, stop))
    shoppers.start()
    try:
        reading = wait_until(lambda: (lambda r: r if r and r.request_rate > 1 else None)(
            traffic.read()), timeout_s=90, what="a request rate in Prometheus")
    finally:
        stop.set()
        shoppers.join(30)
    # The shoppers' pace, give or take what a loaded machine lets them do; /metrics scrapes
    # themselves are left out of the rate.
    assert 1 < reading.request_rate < 40
    assert reading.latency_p95_s is not None and 0 < reading.latency_p95_s < 10
    assert reading.window_s == 10
    assert reading.waiting == 0          # nobody queued in the listen backlog


def test_an_unaggregated_query_is_refused_with_the_fix(storefront, prometheus):
    client = PrometheusClient(prometheus, timeout_s=5)
    wait_until(lambda: client.query("sum(up)") == 1.0, what="Prometheus to scrape the shop")
    requests.get(storefront.url + "/api/v1/openapi.json", timeout=10)
    requests.get(storefront.url + "/nope", timeout=10)
    wait_until(lambda: (client.query('count(peakshop_http_requests_total{route!~"/metrics"})')
                        or 0) >= 2, what="two request series")
    with pytest.raises(SignalError, match="aggregate it with sum"):
        client.query('peakshop_http_requests_total{route!~"/metrics"}')


def test_prometheus_gone_is_a_signal_error(prometheus):
    port = free_port()   # nothing listens here
    with pytest.raises(SignalError, match="cannot query Prometheus"):
        PrometheusClient(f"http://127.0.0.1:{port}", timeout_s=2).query("sum(up)")
