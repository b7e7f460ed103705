"""Fixtures of the order-pipeline tests: the app with pipeline metrics, and real workers.

Workers run as separate `python -m shop.orders.worker_command` processes against the test's own
database and Redis, with short idle and retry times so that reclaiming and retrying happen
within a test.
"""

from __future__ import annotations

import pytest

from shop.orders.metrics import init_app as init_order_metrics
from tests.pipeline.support import ShopState, WorkerProcess, start_worker, subprocess_env


@pytest.fixture
def app(app):
    init_order_metrics(app)
    return app


@pytest.fixture
def state(app) -> ShopState:
    return ShopState(app.extensions["peakshop"].database)


@pytest.fixture
def worker_env(settings_overrides, tmp_path) -> dict[str, str]:
    """Environment of a worker process on this test's database and Redis."""
    return subprocess_env({
        "PEAKSHOP_DATABASE_URL": settings_overrides["database_url"],
        "PEAKSHOP_REDIS_URL": settings_overrides["redis_url"],
        "PEAKSHOP_SECRET_KEY": settings_overrides["secret_key"],
        "PEAKSHOP_INSTANCE_PATH": settings_overrides["instance_path"],
        "PEAKSHOP_LOG_JSON": "false",
        "PEAKSHOP_WORKER_CLAIM_IDLE_MS": "1000",
        "PEAKSHOP_WORKER_BLOCK_MS": "200",
        "PEAKSHOP_WORKER_RELAY_INTERVAL_S": "0.2",
        "PEAKSHOP_WORKER_MAIL_INTERVAL_S": "0.2",
        "PEAKSHOP_MAIL_RETRY_BASE_S": "0.2",
        "PEAKSHOP_MAIL_RETRY_MAX_S": "1",
        "PEAKSHOP_MAIL_LEASE_S": "2",
    })


@pytest.fixture
def workers(tmp_path):
    """Start workers with `workers(env, name, *args)`; any left running are killed after."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], name: str, *args: str) -> WorkerProcess:
        worker = start_worker(env, tmp_path, name, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
