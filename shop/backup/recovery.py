"""PostgreSQL point-in-time recovery into a fresh data directory, and scratch servers.

A restore lays out the base backup, downloads and decrypts the archived WAL next to it, and
lets PostgreSQL replay it (`recovery_target_time` for a point in time). The server then needs
no key and no network to finish recovery.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shop.backup import catalog, crypto, wal
from shop.backup.errors import BackupError
from shop.backup.postgres import as_postgres, connect_libpq, connection_of, give_to_postgres, pg_bin
from shop.backup.store import Store

RESTORE_WAL_DIR = "pg_wal_restore"
RECOVERY_DEADLINE_S = 3600.0


def _empty_folder(path: str) -> None:
    if os.path.exists(path) and os.listdir(path):
        raise BackupError(f"{path} is not empty: restore into a new folder, or move "
                          "this one away first")
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def _extract(backup: catalog.Backup, store: Store, key: bytes, data_dir: str) -> None:
    with store.open(backup.data_key) as raw:
        hashed = catalog.HashingReader(crypto.decrypting_reader(raw, key, backup.data_key))
        mode = "r|gz" if backup.details.get("compression") == "gzip" else "r|"
        with tarfile.open(fileobj=hashed, mode=mode) as archive:
            archive.extractall(data_dir, filter="data")
        while hashed.read(1024 * 1024):
            pass  # the tar's trailing blocks, so the checksum covers every byte
    if hashed.digest.hexdigest() != backup.sha256:
        raise BackupError(f"{backup.data_key} does not match its manifest's checksum: "
                          "restore from another backup")


def stage(backup: catalog.Backup, store: Store, key: bytes, data_dir: str,
          to_time: datetime | None) -> int:
    """Lay out a data directory that recovers to `to_time` (or the end of the archive) when
    started. Returns the number of WAL files fetched."""
    _empty_folder(data_dir)
    _extract(backup, store, key, data_dir)
    fetched = wal.fetch_for_restore(store, key, backup,
                                    os.path.join(data_dir, RESTORE_WAL_DIR),
                                    own_wal_dir=os.path.join(data_dir, "pg_wal"))
    settings = [f"restore_command = 'cp {RESTORE_WAL_DIR}/%f \"%p\"'",
                "recovery_target_action = 'promote'",
                # No connections before the promotion: the app would find a read-only
                # database and fail its writes; refused, it answers 503 and retries.
                "hot_standby = off"]
    if to_time:
        settings.append(f"recovery_target_time = '{to_time.isoformat(sep=' ')}+00'")
    with open(os.path.join(data_dir, "postgresql.auto.conf"), "a") as conf:
        conf.write("\n# peakshop restore of backup " + backup.id + "\n")
        conf.write("\n".join(settings) + "\n")
    Path(data_dir, "recovery.signal").touch()
    give_to_postgres(data_dir)
    return fetched


@dataclass
class RecoveredServer:
    """A restored cluster running on a private socket, for a drill or a logical copy."""

    data_dir: str
    socket_dir: str
    port: int
    major: int
    user: str
    database: str

    def url(self, database: str | None = None) -> str:
        return (f"postgresql+psycopg://{self.user}@/{database or self.database}"
                f"?host={self.socket_dir}&port={self.port}")

    def stop(self) -> None:
        subprocess.run(as_postgres([pg_bin("pg_ctl", self.major), "-D", self.data_dir, "-m",
                                    "fast", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _last_log_problem(log_path: str) -> str:
    with contextlib.suppress(OSError):
        lines = Path(log_path).read_text(errors="replace").splitlines()
        problems = [line for line in lines if "FATAL" in line or "PANIC" in line]
        if problems:
            return problems[-1].strip()
    return "see " + log_path


def start_recovered(backup: catalog.Backup, data_dir: str, work_dir: str) -> RecoveredServer:
    """Start the staged cluster on a socket only this user reaches, without archiving (a
    scratch copy must never write into the production archive), and wait until recovery
    ended and it was promoted."""
    major = int(backup.details.get("server_version_num", "150000")) // 10000
    socket_dir = os.path.join(work_dir, "socket")
    os.makedirs(socket_dir, mode=0o700, exist_ok=True)
    hba = os.path.join(work_dir, "pg_hba.conf")
    Path(hba).write_text("local all all trust\n")
    give_to_postgres(work_dir)
    port = _free_port()
    log_path = os.path.join(work_dir, "postgres.log")
    options = (f"-p {port} -k {socket_dir} -c listen_addresses='' -c archive_mode=off "
               f"-c hba_file={hba}")
    started = subprocess.run(
        as_postgres([pg_bin("pg_ctl", major), "-D", data_dir, "-l", log_path, "-o", options,
                     "-w", "-t", str(int(RECOVERY_DEADLINE_S)), "start"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if started.returncode != 0:
        raise BackupError(f"the restored server did not start ({_last_log_problem(log_path)})"
                          ": the log is in " + log_path)
    server = RecoveredServer(data_dir, socket_dir, port, major,
                             backup.details.get("user", "postgres"),
                             backup.details.get("database", "postgres"))
    try:
        _wait_promoted(server, log_path)
        server.user = _bootstrap_superuser(server)
    except BaseException:
        server.stop()
        raise
    return server


def _bootstrap_superuser(server: RecoveredServer) -> str:
    """The role that owns the cluster: it can read every table, whoever owns them (the
    backup's own role may be a replication-only one)."""
    import psycopg

    with psycopg.connect(host=server.socket_dir, port=server.port, user=server.user,
                         dbname=server.database, autocommit=True) as connection:
        return connection.execute("SELECT rolname FROM pg_roles WHERE oid = 10").fetchone()[0]


def _wait_promoted(server: RecoveredServer, log_path: str) -> None:
    import psycopg

    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(host=server.socket_dir, port=server.port, user=server.user,
                                 dbname=server.database, autocommit=True,
                                 connect_timeout=5) as connection:
                if not connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return
        except psycopg.OperationalError:
            if not os.path.exists(os.path.join(server.data_dir, "postmaster.pid")):
                raise BackupError("recovery failed (" + _last_log_problem(log_path) +
                                  "): the log is in " + log_path) from None
        time.sleep(0.2)
    raise BackupError(f"recovery did not finish within {RECOVERY_DEADLINE_S:.0f} s: the log "
                      "is in " + log_path)


@contextlib.contextmanager
def recovered(backup: catalog.Backup, store: Store, key: bytes,
              to_time: datetime | None) -> Iterator[RecoveredServer]:
    """A scratch server recovered from `backup`, removed afterwards."""
    work_dir = tempfile.mkdtemp(prefix="peakshop-restore-")
    os.chmod(work_dir, 0o755)
    try:
        data_dir = os.path.join(work_dir, "data")
        stage(backup, store, key, data_dir, to_time)
        server = start_recovered(backup, data_dir, work_dir)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def target_tables(database_url: str) -> list[str]:
    with connect_libpq(database_url) as connection:
        return [row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY table_name")]


def copy_into(server: RecoveredServer, database_url: str) -> None:
    """pg_dump from the recovered server | pg_restore into the (empty) target database."""
    target = connection_of(database_url)
    dump = subprocess.Popen(
        as_postgres([pg_bin("pg_dump", server.major), "-Fc", "-h", server.socket_dir, "-p",
                     str(server.port), "-U", server.user, "-d", server.database]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    restore = subprocess.run(
        [pg_bin("pg_restore", server.major), "--no-owner", "--no-acl", "--exit-on-error",
         "--single-transaction", "-d", target.conninfo],
        stdin=dump.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=target.env, check=False)
    dump.stdout.close()
    dumped = dump.wait()
    dump_errors = dump.stderr.read().decode(errors="replace").strip()
    dump.stderr.close()
    if dumped != 0 or restore.returncode != 0:
        said = (restore.stderr.decode(errors="replace").strip() or dump_errors or
                "no output").splitlines()[-1]
        raise BackupError(f"copying into the target failed ({said}): check that the role "
                          "may create tables there")

