"""Processes for the gate's tests: `peakshop gate` alone, and gunicorn serving a stand-in app
(`slow_app`) or the storefront behind `peakshop serve --gate`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import pytest
import redis
import requests

from shop.core.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.servers import RedisServer, free_port, wait_for_port


@dataclass
class Process:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_slow_app(threads: int = 16) -> Process:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.edge.slow_app:app", "--worker-class",
         "gthread", "--threads", str(threads), "--workers", "1", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return Process(process, port)


def start_gate(upstream_port: int, redis_url: str, tmp_path, **env: str) -> Process:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "peakshop.cli", "gate"],
        env={**os.environ, "PEAKSHOP_BIND": f"127.0.0.1:{port}",
             "PEAKSHOP_GATE_UPSTREAM": f"127.0.0.1:{upstream_port}",
             "PEAKSHOP_REDIS_URL": redis_url, "PEAKSHOP_SECRET_KEY": "gate-test-secret",
             "PEAKSHOP_INSTANCE_PATH": str(tmp_path / "gate-instance"),
             "PEAKSHOP_LOG_JSON": "false", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return Process(process, port)


@pytest.fixture(scope="module")
def gate_redis():
    server = RedisServer.start()
    yield server
    server.stop()


@pytest.fixture
def slow_app():
    app = start_slow_app()
    yield app
    app.stop()


@pytest.fixture
def gated_storefront(tmp_path, gate_redis):
    """`peakshop serve --gate` (PEAKSHOP_GATE=true) on SQLite, one sync gunicorn worker on a
    private port this test knows, so that it can compare the gate's answers with gunicorn's."""
    # Every test's shop has the same slug: no room may be left over from another test.
    redis.Redis.from_url(gate_redis.url).flushall()
    database_url = f"sqlite:///{tmp_path / 'peakshop.sqlite3'}"
    upgrade(database_url)
    private_port = free_port()
    server = LiveServer.start(database_url=database_url, redis_url=gate_redis.url,
                              instance_path=str(tmp_path / "instance"), workers=1,
                              extra_env={"PEAKSHOP_GATE": "true", "PEAKSHOP_LOG_JSON": "false",
                                         "PEAKSHOP_GATE_UPSTREAM": f"127.0.0.1:{private_port}"})
    server.private_url = f"http://127.0.0.1:{private_port}"
    yield server
    server.stop()


@dataclass
class GatedShop:
    slug: str
    auth: dict


@pytest.fixture
def gated_shop(gated_storefront) -> GatedShop:
    url = gated_storefront.url
    signed_up = requests.post(f"{url}/api/v1/merchants", json={
        "name": "Gate Shop", "email": "gate@example.com", "password": "long enough"})
    assert signed_up.status_code == 201, signed_up.text
    body = signed_up.json()
    shop = GatedShop(body["merchant"]["slug"], {"Authorization": f"Bearer {body['token']}"})
    created = requests.post(f"{url}/api/v1/shops/{shop.slug}/products", headers=shop.auth, json={
        "sku": "MUG", "name": "Reindeer mug", "price": {"amount": 1250, "currency": "EUR"},
        "stock": 20})
    assert created.status_code == 201, created.text
    return shop
