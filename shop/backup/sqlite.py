"""SQLite: consistent snapshots with SQLite's online backup API, while the shop keeps writing.

SQLite has no write-ahead log to ship elsewhere, so its recovery point is the last snapshot:
`peakshop backup --every SECONDS` takes one on a schedule, and the RPO is that interval.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile

from shop.backup import catalog, crypto
from shop.backup.errors import BackupError
from shop.backup.store import Store
from shop.core.timeutil import utcnow


def sqlite_path(database_url: str) -> str:
    # sqlite:///relative or sqlite:////absolute; "sqlite://" (no third slash) has no path.
    scheme, separator, path = database_url.partition(":///")
    if not separator or not scheme.startswith("sqlite"):
        path = ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        raise BackupError(f"{database_url!r} is not a SQLite file: an in-memory database "
                          "cannot be backed up or restored into")
    return os.path.abspath(path)


def back_up(database_url: str, store: Store, key: bytes) -> catalog.Backup:
    """One snapshot of the database file, encrypted into the store."""
    path = sqlite_path(database_url)
    if not os.path.exists(path):
        raise BackupError(f"the SQLite database {path} does not exist: check "
                          "PEAKSHOP_DATABASE_URL")
    started_at = utcnow()
    with tempfile.TemporaryDirectory(prefix="peakshop-backup-") as scratch:
        snapshot = os.path.join(scratch, "snapshot.sqlite3")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(snapshot)
        try:
            # All pages in one step: the copy is one consistent read, and writers of the
            # WAL-mode database go on meanwhile.
            source.backup(target)
            consistent_at = utcnow()
        except sqlite3.DatabaseError as problem:
            raise BackupError(f"cannot read {path} ({problem}): is it a SQLite "
                              "database?") from None
        finally:
            target.close()
            source.close()
        with open(snapshot, "rb") as data:
            return catalog.store_backup(
                store, key, "sqlite", data, started_at=started_at,
                details_after=lambda: {"consistent_at": catalog.iso(consistent_at),
                                       "file": os.path.basename(path)})


def has_tables(path: str) -> list[str]:
    """The tables of an existing SQLite file (empty when it is new or empty)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        try:
            return [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        except sqlite3.DatabaseError:
            return ["(not a SQLite database)"]


def restore(backup: catalog.Backup, store: Store, key: bytes, database_url: str) -> str:
    """Write the snapshot to the file of `database_url`, which must not hold tables yet."""
    path = sqlite_path(database_url)
    existing = has_tables(path)
    if existing:
        raise BackupError(f"{path} is not empty (tables {', '.join(existing[:3])}...): "
                          "restore into a new file name, or move this one away first")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), prefix=".restoring-",
                                     delete=False) as target:
        try:
            with store.open(backup.data_key) as raw:
                for chunk in crypto.decrypted_chunks(raw, key, backup.data_key):
                    digest.update(chunk)
                    target.write(chunk)
            if digest.hexdigest() != backup.sha256:
                raise BackupError(f"{backup.data_key} does not match its manifest's checksum: "
                                  "restore from another backup")
            target.flush()
            os.fsync(target.fileno())
        except BaseException:
            os.remove(target.name)
            raise
    for leftover in (path + "-wal", path + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(leftover)
    os.replace(target.name, path)
    return path
