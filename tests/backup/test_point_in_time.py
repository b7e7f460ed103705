"""PostgreSQL point-in-time recovery: WAL streamed by `peakshop backup --continuous`, then
`peakshop restore --to-time` into a new database of another server, and `--data-dir`.

Real PostgreSQL 15 servers; the store is a folder (the S3 path is the fire drill's).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psycopg
import pytest

from shop.core.timeutil import utcnow
from tests.backup.flow import wait_for
from tests.backup.support import REPO_ROOT, DisposablePostgres, diary, peakshop, received


def wait_rounds(heartbeat, rounds: int) -> None:
    """Wait until the archiver began `rounds` more rounds (it beats at each round's start)."""
    for _ in range(rounds):
        seen = heartbeat.stat().st_mtime_ns
        wait_for(lambda seen=seen: heartbeat.stat().st_mtime_ns != seen, "an archiver round")


@pytest.mark.slow
@pytest.mark.postgres
def test_restore_to_a_moment_between_two_commits(file_store, postgres_server, tmp_path):
    store_url, env = file_store
    source = DisposablePostgres.start()
    archiver = None
    try:
        plain = source.url().replace("+psycopg", "")
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute("CREATE TABLE diary (id serial PRIMARY KEY, note text)")
        archiver = subprocess.Popen(
            [sys.executable, "-m", "peakshop.cli", "backup", "--to", store_url, "--database",
             source.url(), "--continuous", "--wal-interval", "1", "--spool",
             str(tmp_path / "spool"), "--heartbeat-file", str(tmp_path / "heartbeat")],
            env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for(lambda: list((tmp_path / "store" / "base").glob("*/manifest.enc")),
                 "the base backup")
        probe = peakshop("backup", "--check", "--wal-interval", "1", "--heartbeat-file",
                         str(tmp_path / "heartbeat"), env=env)
        assert probe.returncode == 0, probe.stderr  # the liveness probe of the archiver
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute("INSERT INTO diary (note) VALUES ('before')")
            time.sleep(1.5)
            moment = utcnow()
            time.sleep(1.5)
            connection.execute("INSERT INTO diary (note) VALUES ('after')")
            after = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            # pg_receivewal has written the 'after' commit to its spool ...
            wait_for(lambda: received(connection, after), "the 'after' commit received")
        # ... and the store has it after the archiver's next whole round.
        wait_rounds(tmp_path / "heartbeat", 2)

        then = postgres_server.create_database("pitr_then")
        restored = peakshop("restore", "--from", store_url, "--into", then, "--to-time",
                            moment.isoformat() + "Z", env=env)
        assert restored.returncode == 0, restored.stderr
        assert diary(then) == ["before"]

        latest_dir = source.new_data_dir("latest")
        source.kill()
        restored = peakshop("restore", "--from", store_url, "--data-dir", latest_dir, env=env)
        assert restored.returncode == 0, restored.stderr
        source.start_data_dir(latest_dir)
        source.wait_promoted()
        assert diary(source.url()) == ["before", "after"]

        refused = peakshop("restore", "--from", store_url, "--data-dir", latest_dir, env=env)
        assert refused.returncode == 2 and "is not empty" in refused.stderr
    finally:
        if archiver is not None:
            archiver.send_signal(signal.SIGTERM)
            archiver.wait(timeout=60)
        source.stop()
