"""PostgreSQL: its programs, connections, and base backups with pg_basebackup. The WAL
between base backups is archived by `shop.backup.wal`; restores are `shop.backup.recovery`."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from shop.backup import catalog
from shop.backup.errors import BackupError
from shop.backup.store import Store
from shop.core.timeutil import utcnow

GZIP_LEVEL = 1


# --- tools -------------------------------------------------------------------------------

def pg_bin(tool: str, major: int | None = None) -> str:
    """Path of a PostgreSQL program of the server's major version."""
    folders = [os.environ.get("PEAKSHOP_PG_BIN", "")]
    if major:
        folders.append(f"/usr/lib/postgresql/{major}/bin")
    folders += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in folders:
        if folder and os.path.exists(os.path.join(folder, tool)):
            return os.path.join(folder, tool)
    found = shutil.which(tool)
    if found:
        return found
    raise BackupError(f"{tool} is not installed: install the PostgreSQL "
                      f"{major or ''} server package (apt-get install postgresql-{major or 15}) "
                      "or set PEAKSHOP_PG_BIN to its bin folder")


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: on a root shell, run it as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def give_to_postgres(path: str) -> None:
    if os.geteuid() != 0:
        return
    shutil.chown(path, "postgres", "postgres")
    for folder, names, files in os.walk(path):
        for name in names + files:
            shutil.chown(os.path.join(folder, name), "postgres", "postgres")


@dataclass(frozen=True)
class Connection:
    """libpq connection parameters of a SQLAlchemy URL; the password travels in the env."""

    conninfo: str
    env: dict[str, str]
    user: str
    database: str


def connection_of(database_url: str) -> Connection:
    url = make_url(database_url)
    parts = {"host": url.host or url.query.get("host"), "port": url.port or
             url.query.get("port"), "user": url.username, "dbname": url.database}
    conninfo = " ".join(f"{key}={value}" for key, value in parts.items() if value)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return Connection(conninfo, env, url.username or "postgres", url.database or "postgres")


def connect_libpq(database_url: str):
    """A psycopg connection (autocommit) to the URL; BackupError naming the fix."""
    import psycopg

    connection = connection_of(database_url)
    try:
        return psycopg.connect(connection.conninfo, password=connection.env.get("PGPASSWORD"),
                               autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as problem:
        first = str(problem).strip().splitlines()[0] if str(problem).strip() else "refused"
        raise BackupError(f"cannot connect to {make_url(database_url).render_as_string()} "
                          f"({first}): check the URL and that the server runs") from None


def server_facts(database_url: str) -> dict[str, str]:
    with connect_libpq(database_url) as connection:
        row = connection.execute(
            "SELECT current_setting('server_version_num'), current_setting('archive_mode'), "
            "current_setting('archive_command'), current_setting('archive_timeout'), "
            "pg_walfile_name(pg_current_wal_lsn()), pg_is_in_recovery()").fetchone()
    return {"server_version_num": row[0], "archive_mode": row[1], "archive_command": row[2],
            "archive_timeout": row[3], "current_wal": row[4], "in_recovery": row[5]}


def archiving_warning(facts: dict[str, str], url: str) -> str | None:
    """A line for the operator when nothing archives WAL between base backups."""
    if facts["archive_mode"] in ("on", "always") and "wal-push" in facts["archive_command"]:
        return None
    return ("nothing archives this server's WAL, so the recovery point is this base backup "
            f"alone: keep `peakshop backup --to {url} --continuous` running "
            "(docs/backups.md)")


# --- backing up --------------------------------------------------------------------------

def back_up(database_url: str, store: Store, key: bytes) -> catalog.Backup:
    """A base backup (pg_basebackup, tar format, with the WAL it needs), encrypted as it
    streams into the store."""
    facts = server_facts(database_url)
    major = int(facts["server_version_num"]) // 10000
    connection = connection_of(database_url)
    started_at = utcnow()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [pg_bin("pg_basebackup", major), "-d", connection.conninfo, "-D", "-", "-Ft",
             "-X", "fetch", "--checkpoint=fast", "--no-password",
             # Level 1 is most of gzip's saving (pages of zeros, repeated WAL) for a
             # fraction of its CPU. Client-side: only then does the tar stream keep the
             # backup manifest that pg_verifybackup reads.
             f"--compress=client-gzip:{GZIP_LEVEL}"],
            stdout=subprocess.PIPE, stderr=errors, env=connection.env)

        def details() -> dict:
            # Runs after the data is stored and before the manifest: a failed
            # pg_basebackup leaves no manifest, so the partial upload counts for nothing.
            if process.wait() != 0:
                errors.seek(0)
                said = errors.read().decode(errors="replace").strip().splitlines()
                raise BackupError(f"pg_basebackup failed ({said[-1] if said else 'no output'})"
                                  ": the role in the URL needs the REPLICATION attribute "
                                  "and pg_hba.conf a `replication` line for this host")
            return {"consistent_at": catalog.iso(utcnow()), "start_wal": facts["current_wal"],
                    "compression": "gzip",
                    "server_version_num": facts["server_version_num"],
                    "user": connection.user, "database": connection.database}

        try:
            return catalog.store_backup(store, key, "postgresql", process.stdout,
                                        details_after=details, started_at=started_at)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
