"""The worker as a process: its liveness check, its start-up errors, lost and poisoned messages."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from common import order_stream
from peakshop.cli import cli
from shop.orders.housekeeping import requeue_orphans
from shop.orders.models import OrderLine
from tests.pipeline.support import REPO_ROOT, buy_many, pending_of, wait_until

# The queue and the carts behave the same on one Redis and on a Redis Cluster.
pytestmark = pytest.mark.redis_topologies

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def peakshop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peakshop.cli", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


@on_sqlite
def test_liveness_check_follows_the_heartbeat(worker_env, workers, tmp_path):
    heartbeat = tmp_path / "instance" / "worker.heartbeat"
    assert peakshop(worker_env, "worker", "--check").returncode == 1  # never started

    worker = workers(worker_env, "probed")
    wait_until(heartbeat.exists, "the first heartbeat")
    alive = peakshop(worker_env, "worker", "--check")
    assert alive.returncode == 0, alive.stderr
    assert worker.stop() == 0
    gone = peakshop(worker_env, "worker", "--check")
    assert (gone.returncode, gone.stderr.count("\n")) == (1, 1)
    assert "no heartbeat" in gone.stderr

    heartbeat.write_text(json.dumps({"consumer": "probed", "pid": 1, "at": time.time() - 600}))
    stuck = peakshop(worker_env, "worker", "--check")
    assert stuck.returncode == 1 and "stuck" in stuck.stderr


@pytest.mark.parametrize(("variable", "value"), [
    ("PEAKSHOP_WORKER_BATCH_SIZE", "many"),
    ("PEAKSHOP_WORKER_GRACE_S", "-3"),
    ("PEAKSHOP_WORKER_BLOCK_MS", "9000"),
    ("PEAKSHOP_REDIS_URL", "localhost:6379"),
])
def test_a_bad_setting_stops_the_worker_with_one_line(tmp_path, variable, value):
    result = CliRunner().invoke(cli, ["worker"], env={
        "PEAKSHOP_INSTANCE_PATH": str(tmp_path), variable: value})
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and variable in result.stderr, result.stderr


@on_sqlite
def test_orders_lost_by_redis_are_queued_again(api, shop, state, redis_client, worker_env,
                                               workers):
    api.add_product(shop, "MUG", stock=20)
    order_ids = buy_many(api, shop, 6)
    redis_client.flushall()  # a Redis that lost its data after the orders were relayed
    workers({**worker_env, "PEAKSHOP_WORKER_ORPHAN_AFTER_S": "0.5",
             "PEAKSHOP_WORKER_ORPHAN_INTERVAL_S": "0.3"}, "sweeper")
    wait_until(lambda: state.order_ids("confirmed") == set(order_ids), "every order confirmed")
    assert len(state.mails()) == 6
    assert state.product("MUG") == (14, 0)


def test_a_poisoned_message_is_parked_and_the_rest_confirmed(
        app, api, shop, state, redis_client, worker_env, workers):
    api.add_product(shop, "MUG", stock=20)
    order_ids = buy_many(api, shop, 4)
    poisoned = order_ids[1]
    with app.extensions["peakshop"].database.transaction() as session:
        # Corrupt data: the line claims more units than were ever reserved, so committing it
        # breaks the stock constraints every time it is tried.
        session.execute(update(OrderLine).where(OrderLine.order_id == poisoned)
                        .values(quantity=50))
    workers({**worker_env, "PEAKSHOP_WORKER_MAX_DELIVERIES": "2",
             "PEAKSHOP_WORKER_ORPHAN_AFTER_S": "0.5",
             "PEAKSHOP_WORKER_ORPHAN_INTERVAL_S": "0.3"}, "careful")
    wait_until(lambda: redis_client.xlen(order_stream.DEAD_LETTER_STREAM) == 1, "the poison parked")
    wait_until(lambda: order_stream.queue_depth(redis_client).length == 0, "the queue drained")
    assert state.order_ids("confirmed") == set(order_ids) - {poisoned}
    assert state.order_ids("paid") == {poisoned}
    [(_, parked)] = redis_client.xrange(order_stream.DEAD_LETTER_STREAM)
    assert parked[b"order_id"].decode() == poisoned
    assert b"IntegrityError" in parked[b"reason"]
    assert pending_of(redis_client, "careful") == 0
    # The lost-order sweep leaves a parked order where it is.
    assert requeue_orphans(app.extensions["peakshop"].database, redis_client, 0.0) == 0
