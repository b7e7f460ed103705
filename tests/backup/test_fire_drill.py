"""The fire drill: orders keep coming, the database server and its data burn, and the shop is
rebuilt from the off-site store alone.

PostgreSQL: a real PostgreSQL 15 server, `peakshop backup --continuous` streaming its WAL to
an S3-compatible store — moto's server (`ThreadedMotoServer`) on loopback, the stand-in for
AWS S3 or MinIO, which cannot run here. The server is SIGKILLed and its data directory
deleted; `peakshop restore --data-dir` rebuilds it and it starts on the same port.
SQLite: `peakshop backup --every` snapshots; the file is deleted and restored.

The promise checked: the orders lost are at most those accepted in the last archiving window
before the fire (plus a grace for the upload in flight). The recovery time is measured and
printed, never asserted: speed belongs in benchmarks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import boto3
import pytest
from sqlalchemy import create_engine, text

from shop import create_app
from shop.core.migrate import upgrade
from shop.core.timeutil import utcnow
from tests.backup.flow import OrderFlow, wait_for
from tests.backup.support import REPO_ROOT, DisposablePostgres, peakshop
from tests.support.api import ShopApi

WAL_INTERVAL_S = 2
SNAPSHOT_EVERY_S = 3
# The upload of the window's last WAL (or snapshot) may still be in flight at the fire; on
# a loaded machine that takes a few seconds.
UPLOAD_GRACE_S = 10
FLOW_BEFORE_FIRE_S = 25


def _app(database_url: str, redis_url: str, tmp_path):
    return create_app({"database_url": database_url, "redis_url": redis_url,
                       "secret_key": "test-secret", "log_json": False, "testing": True,
                       "instance_path": str(tmp_path / "instance")})


def _dispose(app) -> None:
    app.extensions["peakshop"].database.dispose()
    app.extensions["peakshop"].redis.close()


def _order_ids(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT id FROM orders")).scalars())
    finally:
        engine.dispose()


def _start_backup(env: dict[str, str], log_path, *args: str) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "peakshop.cli", "backup", *args], env=env,
                                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


def _assert_loss_within_window(flow: OrderFlow, restored: set[str], fire_at, window_s: float,
                               label: str) -> None:
    before_fire = [(at, order_id) for at, order_id in flow.accepted if at <= fire_at]
    lost = [(at, order_id) for at, order_id in before_fire if order_id not in restored]
    window_start = fire_at - timedelta(seconds=window_s)
    older = [order_id for at, order_id in before_fire if at < window_start]
    print(f"\n[{label}] accepted before the fire: {len(before_fire)}, restored: "
          f"{len(before_fire) - len(lost)}, lost: {len(lost)} "
          f"(window {window_s:.0f} s: {len(before_fire) - len(older)} accepted in it)")
    assert older, "the flow ran too briefly for the check to mean anything"
    assert all(order_id in restored for order_id in older), "an order older than the window"
    assert all(at >= window_start for at, _ in lost)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_burns_and_is_rebuilt_from_the_off_site_store(s3_store, redis_server,
                                                                 tmp_path):
    store_url, env = s3_store
    server = DisposablePostgres.start()
    archiver = None
    flow = None
    holder = []
    try:
        upgrade(server.url())
        holder.append(_app(server.url(), redis_server.url, tmp_path))
        api = ShopApi(holder[0].test_client())
        shop = api.sign_up("Nordpol")
        api.add_product(shop, "MUG", stock=1_000_000)
        archiver = _start_backup(env, tmp_path / "archiver.log", "--to", store_url,
                                 "--database", server.url(), "--continuous",
                                 "--wal-interval", str(WAL_INTERVAL_S),
                                 "--spool", str(tmp_path / "spool"),
                                 "--heartbeat-file", str(tmp_path / "heartbeat"))
        bucket, prefix = store_url[5:].split("/", 1)
        s3 = boto3.client("s3", endpoint_url=env["PEAKSHOP_BACKUP_S3_ENDPOINT"],
                          region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")

        def stored_keys() -> list[str]:
            return [item["Key"] for item in s3.list_objects_v2(
                Bucket=bucket, Prefix=prefix).get("Contents", [])]

        wait_for(lambda: any(key.endswith("manifest.enc") for key in stored_keys()),
                 "the first base backup")
        flow = OrderFlow(holder, shop.slug, "MUG")
        flow.start()
        time.sleep(FLOW_BEFORE_FIRE_S)

        fire_at = utcnow()
        server.kill()
        began = time.monotonic()
        restored_dir = server.new_data_dir("restored")
        restored = peakshop("restore", "--from", store_url, "--data-dir", restored_dir,
                            env=env)
        assert restored.returncode == 0, restored.stderr
        server.start_data_dir(restored_dir)
        server.wait_promoted()
        database_back_s = time.monotonic() - began
        wait_for(lambda: flow.accepted_after(fire_at), "an order on the restored database")
        orders_back_s = time.monotonic() - began
        flow.halt()
        print(f"\n[postgresql] RTO: database back after {database_back_s:.1f} s, orders "
              f"accepted again after {orders_back_s:.1f} s; {flow.refused} checkouts refused "
              "meanwhile")
        _assert_loss_within_window(flow, _order_ids(server.url()), fire_at,
                                   WAL_INTERVAL_S + UPLOAD_GRACE_S, "postgresql")

        # The drill restores the same store (now across the new timeline) and verifies it.
        drill = peakshop("drill", "--from", store_url, "--json", env=env)
        assert drill.returncode == 0, drill.stdout + drill.stderr
        report = json.loads(drill.stdout)
        assert report["verified"] is True and report["orders_missing"] == 0
        assert report["orders_checked"] > 0
        print(f"[postgresql] drill: {report}")
    finally:
        # A failure before the flow's own halt must not leave its shoppers running: they
        # would go on checking out against a dead database in this worker's later tests.
        if flow is not None and flow.is_alive():
            flow.halt()
        if archiver is not None:
            archiver.send_signal(signal.SIGTERM)
            archiver.wait(timeout=60)
        for app in holder:
            _dispose(app)
        server.stop()


@pytest.mark.slow
def test_sqlite_burns_and_is_rebuilt_from_the_off_site_store(s3_store, redis_server,
                                                             tmp_path):
    store_url, env = s3_store
    path = tmp_path / "shop" / "peakshop.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    holder = [_app(url, redis_server.url, tmp_path)]
    api = ShopApi(holder[0].test_client())
    shop = api.sign_up("Nordpol")
    api.add_product(shop, "MUG", stock=1_000_000)
    snapshots = _start_backup({**env, "PEAKSHOP_DATABASE_URL": url},
                              tmp_path / "snapshots.log", "--to", store_url,
                              "--every", str(SNAPSHOT_EVERY_S), "--keep", "3")
    flow = OrderFlow(holder, shop.slug, "MUG")
    try:
        flow.start()
        time.sleep(FLOW_BEFORE_FIRE_S)
        # The machine burns: nothing more is accepted, the snapshotter dies with it.
        flow.halt()
        snapshots.kill()
        snapshots.wait()
        fire_at = utcnow()
        _dispose(holder[0])
        for leftover in (path, path.with_name(path.name + "-wal"),
                         path.with_name(path.name + "-shm")):
            if leftover.exists():
                os.remove(leftover)

        began = time.monotonic()
        restored = peakshop("restore", "--from", store_url, "--into", url, env=env)
        assert restored.returncode == 0, restored.stderr
        holder[0] = _app(url, redis_server.url, tmp_path)
        back = OrderFlow(holder, shop.slug, "MUG")
        assert back._buy_one(), "the restored shop takes orders"
        print(f"\n[sqlite] RTO: orders accepted again after {time.monotonic() - began:.1f} s")
        _assert_loss_within_window(flow, _order_ids(url), fire_at,
                                   SNAPSHOT_EVERY_S + UPLOAD_GRACE_S, "sqlite")
        listed = peakshop("drill", "--from", store_url, "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout)["verified"] is True
    finally:
        flow.halt()
        if snapshots.poll() is None:
            snapshots.kill()
            snapshots.wait()
        _dispose(holder[0])
