"""Servers of the backup tests: a PostgreSQL that may be burnt down, the `peakshop` command
itself, and an S3 stand-in.

The S3 stand-in is moto's server (`ThreadedMotoServer`) on loopback: an S3-compatible HTTP
API that boto3 talks to exactly as to AWS S3 or MinIO. A real object store cannot run here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from tests.support.servers import PG_BIN, _as_postgres, free_port, initdb, pg_ctl_start

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_KEY = "test-only-backup-key-0123456789abcdef0123456789"


def peakshop(*args: str, env: dict[str, str], timeout: float = 600
             ) -> subprocess.CompletedProcess:
    """Run `peakshop ARGS` (as `python -m peakshop.cli`) and capture what it said."""
    return subprocess.run([sys.executable, "-m", "peakshop.cli", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def backup_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PEAKSHOP_", "AWS_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PEAKSHOP_BACKUP_KEY"] = TEST_KEY
    env.update(extra or {})
    return env


@dataclass
class DisposablePostgres:
    """A PostgreSQL 15 server on loopback that a test may kill, burn and restore."""

    port: int
    directory: str
    data_dir: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> DisposablePostgres:
        directory, data_dir = initdb("peakshop-pg-disposable-")
        server = cls(free_port(), directory, data_dir)
        server.start_data_dir(data_dir)
        return server

    def start_data_dir(self, data_dir: str) -> None:
        """Start (again) on this port from `data_dir`."""
        self.data_dir = data_dir
        pg_ctl_start(data_dir, self.port, self.directory, f"log-{os.path.basename(data_dir)}")

    def wait_promoted(self, deadline_s: float = 300) -> None:
        give_up = time.monotonic() + deadline_s
        while time.monotonic() < give_up:
            try:
                with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                                     connect_timeout=5) as connection:
                    if not connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            except psycopg.OperationalError:
                pass
            time.sleep(0.2)
        raise AssertionError("the restored server did not finish recovery")

    def kill(self) -> None:
        """The fire: SIGKILL the postmaster and every backend, then delete the data."""
        with open(os.path.join(self.data_dir, "postmaster.pid")) as pid_file:
            postmaster = psutil.Process(int(pid_file.readline()))
        victims = [*postmaster.children(recursive=True), postmaster]
        for process in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(victims, timeout=30)
        shutil.rmtree(self.data_dir)

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", self.data_dir, "-m",
                                     "immediate", "stop"]), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def new_data_dir(self, name: str) -> str:
        """A path for a restored data directory that the postgres user may create."""
        return os.path.join(self.directory, name)


def diary(url: str) -> list[str]:
    """The notes of the `diary` table the point-in-time tests write, in order."""
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        return [row[0] for row in connection.execute("SELECT note FROM diary ORDER BY id")]


def received(connection: psycopg.Connection, lsn) -> bool:
    """Whether the WAL receiver (pg_receivewal) has written the server's WAL up to `lsn`."""
    return connection.execute(
        "SELECT coalesce(bool_and(write_lsn >= %s), false) FROM pg_stat_replication "
        "WHERE application_name = 'pg_receivewal'", (lsn,)).fetchone()[0]


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test").create_bucket(
        Bucket=bucket)
