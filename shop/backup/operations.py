"""The three things an operator does: back up, restore, drill. Plain functions over a store
URL and a database URL; the CLI only parses flags and prints."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import create_engine

from shop.backup import catalog, crypto, postgres, recovery, sqlite, verify, wal
from shop.backup.errors import BackupError
from shop.backup.store import Store, open_store
from shop.core.timeutil import utcnow

BASE_BACKUP_RETRY_S = 60.0


def engine_of(database_url: str) -> str:
    scheme = database_url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise BackupError(f"{database_url!r} is not a database URL: use "
                      "postgresql+psycopg://user@host/db or sqlite:///path")


@dataclass
class BackupResult:
    backup: catalog.Backup
    seconds: float
    pruned: list[str] = field(default_factory=list)
    warning: str | None = None


def back_up(database_url: str, store_url: str, *, keep: int | None = None,
            keep_days: float | None = None, archiving: bool = False) -> BackupResult:
    """One full backup of the database into the store, then retention."""
    store = open_store(store_url)
    key = crypto.load_key()
    began = time.monotonic()
    warning = None
    if engine_of(database_url) == "postgresql":
        facts = postgres.server_facts(database_url)
        warning = None if archiving else postgres.archiving_warning(facts, store_url)
        backup = postgres.back_up(database_url, store, key)
    else:
        backup = sqlite.back_up(database_url, store, key)
    seconds = time.monotonic() - began
    pruned = catalog.prune(store, key, keep, keep_days)
    return BackupResult(backup, seconds, pruned, warning)


def push_wal(path: str, store_url: str) -> bool:
    store = open_store(store_url)
    return wal.push_wal(path, store, crypto.load_key())


def archive_continuously(database_url: str, store_url: str, *, interval_s: float,
                         every_s: float | None, spool: str, keep: int | None,
                         keep_days: float | None, stop: threading.Event,
                         report: Callable[[BackupResult], None],
                         report_error: Callable[[BackupError], None],
                         beat: Callable[[], None] = lambda: None) -> None:
    """PostgreSQL: a base backup (then one every `every_s`), and the WAL streamed and
    uploaded every `interval_s` until `stop`."""
    if engine_of(database_url) != "postgresql":
        raise BackupError("--continuous streams PostgreSQL's WAL: for SQLite use --every "
                          "SECONDS (each snapshot is the recovery point)")
    store = open_store(store_url)
    key = crypto.load_key()
    facts = postgres.server_facts(database_url)
    receiver = wal.WalReceiver(postgres.connection_of(database_url),
                               int(facts["server_version_num"]) // 10000, store, key, spool)
    # The slot first: it holds every WAL record from before the base backup's start.
    receiver.ensure_slot()
    archiver = threading.Thread(target=wal.archive_continuously, name="wal-archiver",
                                args=(receiver, interval_s, stop, beat), daemon=True)
    archiver.start()
    try:
        while not stop.is_set():
            began = time.monotonic()
            try:
                report(back_up(database_url, store_url, keep=keep, keep_days=keep_days,
                               archiving=True))
                next_in_s = every_s
            except BackupError as problem:
                report_error(problem)
                # Without a base backup the streamed WAL restores nothing: retry soon.
                next_in_s = min(every_s or BASE_BACKUP_RETRY_S, BASE_BACKUP_RETRY_S)
            if next_in_s is None:
                break
            stop.wait(max(0.0, next_in_s - (time.monotonic() - began)))
        stop.wait()
    finally:
        stop.set()
        archiver.join(timeout=60)


def _chosen(store: Store, key: bytes, to_time: datetime | None) -> catalog.Backup:
    return catalog.choose_backup(catalog.list_backups(store, key), to_time, store.url)


def _refuse_engine_mismatch(backup: catalog.Backup, database_url: str) -> None:
    target = engine_of(database_url)
    if backup.engine != target:
        example = ("postgresql+psycopg://user@host/newdb" if backup.engine == "postgresql"
                   else "sqlite:///path/to/new.sqlite3")
        raise BackupError(f"backup {backup.id} is of a {backup.engine} database and cannot "
                          f"be restored into {target}: use --into {example}")


@dataclass
class RestoreResult:
    backup: catalog.Backup
    seconds: float
    target: str


def restore(store_url: str, database_url: str | None, to_time: datetime | None = None,
            data_dir: str | None = None) -> RestoreResult:
    """Restore into an empty database (or, for PostgreSQL, an empty data directory)."""
    if to_time is not None and to_time > utcnow():
        raise BackupError(f"--to-time {catalog.iso(to_time)} is in the future: leave it out "
                          "to restore the latest point")
    store = open_store(store_url)
    key = crypto.load_key()
    began = time.monotonic()
    backup = _chosen(store, key, to_time)
    if data_dir:
        if backup.engine != "postgresql":
            raise BackupError("--data-dir is for PostgreSQL backups: restore a SQLite "
                              "backup with --into sqlite:///path")
        recovery.stage(backup, store, key, os.path.abspath(data_dir), to_time)
        return RestoreResult(backup, time.monotonic() - began, os.path.abspath(data_dir))
    if not database_url:
        raise BackupError("nowhere to restore to: give --into DATABASE_URL (or --data-dir "
                          "for a PostgreSQL data directory)")
    _refuse_engine_mismatch(backup, database_url)
    if backup.engine == "sqlite":
        target = sqlite.restore(backup, store, key, database_url)
        return RestoreResult(backup, time.monotonic() - began, target)
    existing = recovery.target_tables(database_url)
    if existing:
        raise BackupError(f"the target database is not empty (tables "
                          f"{', '.join(existing[:3])}...): create a new one "
                          "(createdb NAME) and restore into it")
    with recovery.recovered(backup, store, key, to_time) as server:
        recovery.copy_into(server, database_url)
    return RestoreResult(backup, time.monotonic() - began, database_url)


@dataclass
class DrillReport:
    verified: bool
    rpo_s: float  # how old the newest restorable point was when the drill began
    rto_s: float  # seconds from the drill's start until the restored database answered
    orders_checked: int
    orders_missing: int
    engine: str
    backup_id: str
    recovery_point: str
    verify_s: float
    problems: list[str]

    def as_json(self) -> dict:
        return asdict(self)


def newest_point(store: Store, backup: catalog.Backup) -> datetime:
    """The newest moment the store can restore: the last snapshot, or the last WAL archived."""
    moments = [backup.consistent_at]
    if backup.engine == "postgresql":
        moments += [item.modified for item in catalog.wal_objects(store)]
    return max(moments)


def drill(store_url: str) -> DrillReport:
    """Restore the latest backup into a scratch database, verify it, and measure."""
    store = open_store(store_url)
    key = crypto.load_key()
    drill_began_at, began = utcnow(), time.monotonic()
    backup = _chosen(store, key, None)
    rpo_s = max(0.0, (drill_began_at - newest_point(store, backup)).total_seconds())
    scratch = tempfile.mkdtemp(prefix="peakshop-drill-")
    try:
        if backup.engine == "sqlite":
            url = "sqlite:///" + os.path.join(scratch, "restored.sqlite3")
            sqlite.restore(backup, store, key, url)
            return _verified(backup, url, began, rpo_s)
        with recovery.recovered(backup, store, key, None) as server:
            return _verified(backup, server.url(), began, rpo_s)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _verified(backup: catalog.Backup, url: str, began: float, rpo_s: float) -> DrillReport:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rto_s = time.monotonic() - began
            verify_began = time.monotonic()
            with connection.begin():
                checked = verify.verify(connection)
                recovery_point = _last_activity(connection) or catalog.iso(
                    backup.consistent_at)
    finally:
        engine.dispose()
    return DrillReport(checked.verified, round(rpo_s, 3), round(rto_s, 3),
                       checked.orders_checked, checked.orders_missing, backup.engine,
                       backup.id, recovery_point, round(time.monotonic() - verify_began, 3),
                       checked.descriptions)


def _last_activity(connection) -> str | None:
    from sqlalchemy import inspect, text

    if "orders" not in inspect(connection).get_table_names():
        return None
    newest = connection.execute(text("SELECT max(updated_at) FROM orders")).scalar()
    if newest is None:
        return None
    if isinstance(newest, str):
        return newest.replace(" ", "T") + "Z"
    return catalog.iso(newest)
