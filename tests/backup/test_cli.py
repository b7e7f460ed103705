"""`peakshop backup | restore | drill` as an operator runs them: SQLite snapshots to a folder
and to S3 (moto's S3-compatible server on loopback stands in for AWS S3 / MinIO), point in
time, retention, a drill that fails on a broken shop, and one-line errors for every mistake.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from shop.core.migrate import upgrade
from tests.backup.support import peakshop
from tests.support.servers import free_port


@pytest.fixture
def shop_db(tmp_path) -> str:
    """A migrated SQLite shop with one product and one paid order."""
    path = tmp_path / "live" / "peakshop.sqlite3"
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            INSERT INTO merchants (id, slug, name, created_at) VALUES (1, 'nordpol', 'Nordpol',
                '2026-12-01 10:00:00');
            INSERT INTO products (id, merchant_id, sku, name, description, price_amount,
                currency, stock, reserved, created_at, updated_at)
                VALUES (1, 1, 'MUG', 'Mug', '', 1250, 'EUR', 10, 2, '2026-12-01 10:00:00',
                '2026-12-01 10:00:00');
            INSERT INTO orders (id, merchant_id, email, shipping_address, status,
                total_amount, currency, payment_gateway, reservation_expires_at, created_at,
                updated_at, paid_at) VALUES ('o1', 1, 'ada@example.com', '{}', 'paid', 2500,
                'EUR', 'dummy', '2026-12-01 11:00:00', '2026-12-01 10:00:00',
                '2026-12-01 10:00:00', '2026-12-01 10:00:00');
            INSERT INTO order_lines (order_id, product_id, sku, name, quantity,
                unit_price_amount, reservation) VALUES ('o1', 1, 'MUG', 'Mug', 2, 1250, 'held');
            INSERT INTO outbox (topic, order_id, payload, created_at)
                VALUES ('order.paid', 'o1', '{}', '2026-12-01 10:00:00');
        """)
    return f"sqlite:///{path}"


def one_line_failure(result, *expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("store", ["file_store", "s3_store"])
def test_backup_restore_and_drill_round_trip(request, store, shop_db, tmp_path):
    store_url, env = request.getfixturevalue(store)
    env = {**env, "PEAKSHOP_DATABASE_URL": shop_db}
    made = peakshop("backup", "--to", store_url, env=env)
    assert made.returncode == 0, made.stderr
    assert "(sqlite)" in made.stdout

    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    restored = peakshop("restore", "--from", store_url, "--into", target, env=env)
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(target.split("///")[1]) as connection:
        assert connection.execute("SELECT id, total_amount FROM orders").fetchall() == [
            ("o1", 2500)]

    drilled = peakshop("drill", "--from", store_url, "--json", env=env)
    assert drilled.returncode == 0, drilled.stderr
    report = json.loads(drilled.stdout)
    assert {"verified", "rpo_s", "rto_s", "orders_checked", "orders_missing"} <= set(report)
    assert report["verified"] is True
    assert (report["orders_checked"], report["orders_missing"]) == (1, 0)
    assert report["rpo_s"] >= 0 and report["rto_s"] > 0


def test_store_holds_only_ciphertext(file_store, shop_db, tmp_path):
    store_url, env = file_store
    assert peakshop("backup", "--to", store_url, env={
        **env, "PEAKSHOP_DATABASE_URL": shop_db}).returncode == 0
    stored = b"".join(path.read_bytes() for path in (tmp_path / "store").rglob("*.enc"))
    assert b"ada@example.com" not in stored and b"SQLite format" not in stored


def test_a_damaged_or_foreign_object_leaves_the_good_backups_usable(file_store, shop_db,
                                                                    tmp_path):
    """An old manifest overwritten with other bytes (a bad disk block, a stray copy) is left
    out with a warning; the drill and restore use the good backups beside it."""
    store_url, env = file_store
    env = {**env, "PEAKSHOP_DATABASE_URL": shop_db}
    assert peakshop("backup", "--to", store_url, env=env).returncode == 0
    foreign = tmp_path / "store" / "base" / "20200101T000000000000Z"
    foreign.mkdir(parents=True)
    (foreign / "manifest.enc").write_bytes(os.urandom(300))
    drilled = peakshop("drill", "--from", store_url, "--json", env=env)
    assert drilled.returncode == 0, drilled.stderr
    assert json.loads(drilled.stdout)["verified"] is True
    assert "20200101T000000000000Z" in drilled.stderr and "Traceback" not in drilled.stderr
    restored = peakshop("restore", "--from", store_url, "--into",
                        f"sqlite:///{tmp_path / 'again.sqlite3'}", env=env)
    assert restored.returncode == 0, restored.stderr


def test_to_time_restores_the_newest_snapshot_before_it(file_store, shop_db, tmp_path):
    store_url, env = file_store
    env = {**env, "PEAKSHOP_DATABASE_URL": shop_db}
    assert peakshop("backup", "--to", store_url, env=env).returncode == 0
    time.sleep(1.1)
    between = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)
    with sqlite3.connect(shop_db.split("///")[1]) as connection:
        connection.execute("UPDATE orders SET total_amount = 9999")
    assert peakshop("backup", "--to", store_url, env=env).returncode == 0

    def total_at(*args: str, name: str) -> int:
        target = tmp_path / name
        result = peakshop("restore", "--from", store_url, "--into", f"sqlite:///{target}",
                          *args, env=env)
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(target) as connection:
            return connection.execute("SELECT total_amount FROM orders").fetchone()[0]

    assert total_at("--to-time", between, name="then.sqlite3") == 2500
    assert total_at(name="latest.sqlite3") == 9999
    one_line_failure(peakshop("restore", "--from", store_url, "--into",
                              f"sqlite:///{tmp_path / 'never.sqlite3'}", "--to-time",
                              "2001-01-01T00:00:00+00:00", env=env),
                     "choose a later --to-time")


def test_keep_deletes_the_oldest(file_store, shop_db, tmp_path):
    store_url, env = file_store
    env = {**env, "PEAKSHOP_DATABASE_URL": shop_db}
    for _ in range(4):
        assert peakshop("backup", "--to", store_url, "--keep", "2", env=env).returncode == 0
    manifests = sorted((tmp_path / "store" / "base").glob("*/manifest.enc"))
    assert len(manifests) == 2


def test_drill_fails_on_a_shop_that_does_not_add_up(file_store, shop_db):
    store_url, env = file_store
    with sqlite3.connect(shop_db.split("///")[1]) as connection:
        # A reservation without an order holding it, and a paid order the worker never sees.
        connection.execute("UPDATE products SET reserved = 5")
        connection.execute("DELETE FROM outbox")
        connection.execute("UPDATE orders SET total_amount = 1")
    assert peakshop("backup", "--to", store_url, env={
        **env, "PEAKSHOP_DATABASE_URL": shop_db}).returncode == 0
    drilled = peakshop("drill", "--from", store_url, "--json", env=env)
    assert drilled.returncode == 1
    report = json.loads(drilled.stdout)
    assert report["verified"] is False
    assert any("reserved count" in problem for problem in report["problems"])
    assert any("no outbox message" in problem for problem in report["problems"])
    assert any("total differs" in problem for problem in report["problems"])


def test_drill_writes_prometheus_gauges(file_store, shop_db, tmp_path):
    store_url, env = file_store
    assert peakshop("backup", "--to", store_url, env={
        **env, "PEAKSHOP_DATABASE_URL": shop_db}).returncode == 0
    textfile = tmp_path / "drill.prom"
    assert peakshop("drill", "--from", store_url, "--textfile", str(textfile),
                    env=env).returncode == 0
    exposition = textfile.read_text()
    assert "peakshop_backup_drill_verified 1.0" in exposition
    assert "peakshop_backup_drill_last_success_timestamp_seconds" in exposition


def test_every_mistake_is_one_line_with_the_fix(file_store, shop_db, tmp_path):
    store_url, env = file_store
    without_key = {k: v for k, v in env.items() if k != "PEAKSHOP_BACKUP_KEY"}
    with_db = {**env, "PEAKSHOP_DATABASE_URL": shop_db}
    one_line_failure(peakshop("backup", "--to", "/var/backups", env=with_db),
                     "is not a backup URL", "file:///")
    one_line_failure(peakshop("backup", "--to", "ftp://example.com/x", env=with_db),
                     "is not a backup URL")
    one_line_failure(peakshop("backup", "--to", "s3:///prefix-only", env=with_db),
                     "names no bucket")
    one_line_failure(peakshop("backup", env=with_db), "add --to URL")
    one_line_failure(peakshop("backup", "--to", store_url, env={
        **without_key, "PEAKSHOP_DATABASE_URL": shop_db}),
        "PEAKSHOP_BACKUP_KEY is not set", "openssl rand")
    one_line_failure(peakshop("backup", "--to", store_url, "--every", "0", env=with_db),
                     "--every")
    # NaN passes every bound click checks: a loop "every NaN seconds" ran flat out, and
    # inf or 1e300 overflowed the clock after the first backup.
    for flag, value in (("--every", "nan"), ("--every", "inf"), ("--every", "1e300"),
                        ("--keep-days", "nan"), ("--keep-days", "inf"),
                        ("--wal-interval", "nan")):
        one_line_failure(peakshop("backup", "--to", store_url, flag, value, env=with_db), flag)
    one_line_failure(peakshop("backup", "--to", store_url, "--database",
                              "sqlite:///" + str(tmp_path / "missing.sqlite3"), env=env),
                     "does not exist")
    assert peakshop("backup", "--to", store_url, env=with_db).returncode == 0

    one_line_failure(peakshop("drill", "--from", store_url, env={
        **env, "PEAKSHOP_BACKUP_KEY": "another-key-entirely-0123456789abcdef"}),
        "PEAKSHOP_BACKUP_KEY does not open", "the key the backup was made with")
    one_line_failure(peakshop("drill", "--from", f"file://{tmp_path / 'nowhere'}", env=env),
                     "does not exist")
    one_line_failure(peakshop("drill", "--from", "s3://unreachable/x", env={
        **env, "PEAKSHOP_BACKUP_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}),
        "unreachable", "PEAKSHOP_BACKUP_S3_ENDPOINT")
    one_line_failure(peakshop("restore", "--from", store_url, "--into", shop_db, env=env),
                     "is not empty", "new file name")
    one_line_failure(peakshop("restore", "--from", store_url, "--into",
                              "postgresql+psycopg://u@127.0.0.1/db", env=env),
                     "sqlite database and cannot be restored into postgresql")
    one_line_failure(peakshop("restore", "--from", store_url, "--into",
                              f"sqlite:///{tmp_path / 'x.sqlite3'}", "--to-time",
                              "2026-12-24 18:00", env=env), "has no time zone")
    one_line_failure(peakshop("restore", "--from", store_url, "--into",
                              f"sqlite:///{tmp_path / 'x.sqlite3'}", "--to-time",
                              "christmas", env=env), "not an RFC 3339 time")
    one_line_failure(peakshop("restore", "--from", store_url, "--into",
                              f"sqlite:///{tmp_path / 'x.sqlite3'}", "--to-time",
                              "2999-01-01T00:00:00Z", env=env), "in the future")
    one_line_failure(peakshop("restore", "--from", store_url, "--into", "nonsense", env=env),
                     "is not a database URL")
    one_line_failure(peakshop("backup", "--to", f"file://{tmp_path}/store?x=1#frag",
                              env=with_db), "query or a fragment")
    # An off-site volume that is not mounted: fail, never fill the local disk instead.
    one_line_failure(peakshop("backup", "--to", f"file://{tmp_path}/not-mounted/peakshop",
                              env=with_db), "does not exist", "mount the backup volume")
    assert not (tmp_path / "not-mounted").exists()
    # Percent-encoded, as URLs are: the folder is "my shop", not "my%20shop".
    assert peakshop("backup", "--to", f"file://{tmp_path}/my%20shop", env=with_db
                    ).returncode == 0
    assert (tmp_path / "my shop").is_dir() and not (tmp_path / "my%20shop").exists()
    for in_memory in ("sqlite://", "sqlite:///:memory:"):
        one_line_failure(peakshop("restore", "--from", store_url, "--into", in_memory,
                                  env=env), "in-memory database")
    assert not (tmp_path / "sqlite:").exists()
    one_line_failure(peakshop("drill", "--from", "s3://bucket/shop", env={
        **env, "PEAKSHOP_BACKUP_S3_ENDPOINT": "garbage"}),
        "PEAKSHOP_BACKUP_S3_ENDPOINT is not usable")
    one_line_failure(peakshop("drill", "--from", "s3://bucket/shop", env={
        **env, "PEAKSHOP_BACKUP_S3_ENDPOINT": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": ""}), "AWS_SECRET_ACCESS_KEY")
    # The local side refusing (here a "folder" that is a file): one line, exit 1.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    refused = peakshop("restore", "--from", store_url, "--into",
                       f"sqlite:///{blocker / 'x.sqlite3'}", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    one_line_failure(peakshop("backup", "--to", store_url, "--keep", "0", env=with_db),
                     "--keep")
    one_line_failure(peakshop("restore", "--from", store_url, "--bogus", env=env),
                     "--bogus", "see --help")
    one_line_failure(peakshop("restore", "--into", shop_db, env=env), "--from URL")


@pytest.mark.postgres
def test_postgresql_target_must_be_empty(file_store, postgres_server, tmp_path):
    store_url, env = file_store
    source = postgres_server.create_database("backup_source")
    upgrade(source)
    made = peakshop("backup", "--to", store_url, "--database", source, env=env)
    assert made.returncode == 0, made.stderr
    assert "nothing archives this server's WAL" in made.stderr  # said, and not fatal
    one_line_failure(peakshop("restore", "--from", store_url, "--into", source, env=env),
                     "not empty", "createdb")
    target = postgres_server.create_database("backup_target")
    restored = peakshop("restore", "--from", store_url, "--into", target, env=env)
    assert restored.returncode == 0, restored.stderr
    one_line_failure(peakshop("restore", "--from", store_url, "--into",
                              f"sqlite:///{tmp_path / 'x.sqlite3'}", env=env),
                     "postgresql database and cannot be restored into sqlite")


def test_continuous_is_for_postgresql_and_its_probe_fails_without_a_heartbeat(
        file_store, shop_db, tmp_path):
    store_url, env = file_store
    one_line_failure(peakshop("backup", "--to", store_url, "--continuous", env={
        **env, "PEAKSHOP_DATABASE_URL": shop_db}), "streams PostgreSQL's WAL", "--every")
    probe = peakshop("backup", "--check", "--heartbeat-file", str(tmp_path / "none"), env=env)
    assert probe.returncode == 1 and "no heartbeat" in probe.stderr


def test_s3_mistakes_are_one_line_too(s3_store, shop_db):
    store_url, env = s3_store
    with_db = {**env, "PEAKSHOP_DATABASE_URL": shop_db}
    one_line_failure(peakshop("backup", "--to", "s3://no-such-bucket/shop", env=with_db),
                     "does not exist", "create it")
    without_credentials = {k: v for k, v in with_db.items() if not k.startswith("AWS_")}
    # No credentials anywhere (not even a shared file): boto3 cannot sign.
    without_credentials["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    without_credentials["AWS_CONFIG_FILE"] = "/nonexistent"
    without_credentials["AWS_EC2_METADATA_DISABLED"] = "true"  # no look-up off loopback
    one_line_failure(peakshop("backup", "--to", store_url, env=without_credentials),
                     "AWS_ACCESS_KEY_ID")
