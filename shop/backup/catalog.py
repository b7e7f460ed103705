"""The layout of a backup store, its manifests, choosing a backup, and retention.

    base/<id>/data.enc        the database (PostgreSQL: pg_basebackup's tar; SQLite: the file)
    base/<id>/manifest.enc    what, when, sizes and checksum; written last
    wal/<segment>.enc         PostgreSQL's archived write-ahead log

`<id>` is the UTC start time, so keys sort by age. A backup without a manifest was cut
short and is ignored. Manifests are encrypted like everything else: the store learns
nothing but sizes and times.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from shop.backup import crypto
from shop.backup.errors import BackupError, DamagedObject
from shop.backup.store import Store, StoredObject
from shop.core.timeutil import utcnow

log = logging.getLogger(__name__)

BASE = "base/"
WAL = "wal/"
DATA = "data.enc"
MANIFEST = "manifest.enc"
FORMAT = 1
ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
# 000000010000000A000000FF: timeline, then log and segment numbers.
WAL_NAME = re.compile(r"^([0-9A-F]{8})([0-9A-F]{16})")


@dataclass(frozen=True)
class Backup:
    """A complete backup, as its manifest describes it."""

    id: str
    engine: str  # postgresql | sqlite
    started_at: datetime
    finished_at: datetime
    size: int  # plaintext bytes
    stored_bytes: int  # ciphertext bytes in the store
    sha256: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def data_key(self) -> str:
        return f"{BASE}{self.id}/{DATA}"

    @property
    def consistent_at(self) -> datetime:
        """The moment the backup's data is from (PostgreSQL: the end of the base backup,
        from which archived WAL rolls it forward; SQLite: the snapshot)."""
        moment = self.details.get("consistent_at")
        return parse_iso(moment) if moment else self.finished_at


def new_backup_id(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime(ID_FORMAT)


def iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.rstrip("Z"))


class HashingReader:
    """Passes a stream through, counting and hashing what went by (the plaintext)."""

    def __init__(self, source: BinaryIO):
        self.source = source
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.size += len(data)
        self.digest.update(data)
        return data


def store_backup(store: Store, key: bytes, engine: str, source: BinaryIO,
                 details_after: Callable[[], dict[str, Any]] | None = None,
                 started_at: datetime | None = None) -> Backup:
    """Encrypt `source` into a new backup, then its manifest; returns the manifest."""
    started_at = started_at or utcnow()
    backup_id = new_backup_id(started_at)
    hashed = HashingReader(source)
    stored = store.put(f"{BASE}{backup_id}/{DATA}", crypto.encrypting_reader(hashed, key))
    backup = Backup(backup_id, engine, started_at, utcnow(), hashed.size, stored,
                    hashed.digest.hexdigest(), details_after() if details_after else {})
    manifest = json.dumps({
        "format": FORMAT, "id": backup.id, "engine": backup.engine,
        "started_at": iso(backup.started_at), "finished_at": iso(backup.finished_at),
        "size": backup.size, "stored_bytes": backup.stored_bytes, "sha256": backup.sha256,
        "details": backup.details}).encode()
    store.put(f"{BASE}{backup_id}/{MANIFEST}",
              crypto.encrypting_reader(io.BytesIO(manifest), key))
    return backup


def read_manifest(store: Store, key: bytes, backup_id: str) -> Backup:
    name = f"{BASE}{backup_id}/{MANIFEST}"
    with store.open(name) as raw:
        text = b"".join(crypto.decrypted_chunks(raw, key, name))
    try:
        data = json.loads(text)
    except ValueError:
        raise DamagedObject(f"{name} opens but is not a manifest: restore from another "
                            "backup") from None
    if not isinstance(data, dict):
        raise DamagedObject(f"{name} opens but is not a manifest: restore from another backup")
    if data.get("format") != FORMAT:
        raise BackupError(f"{name} has format {data.get('format')!r}, this peakshop reads "
                          f"{FORMAT}: restore with the peakshop version that wrote it")
    try:
        return Backup(data["id"], data["engine"], parse_iso(data["started_at"]),
                      parse_iso(data["finished_at"]), data["size"], data["stored_bytes"],
                      data["sha256"], data.get("details") or {})
    except (KeyError, TypeError, ValueError):
        raise DamagedObject(f"{name} is a manifest with fields missing or malformed: "
                            "restore from another backup") from None


def list_backups(store: Store, key: bytes) -> list[Backup]:
    """Every complete backup, oldest first. A backup whose manifest is damaged or foreign is
    left out, with a warning: one bad object must not keep every good backup from a
    restore. (A key that opens none of them is still an error.)"""
    ids = sorted({item.key.split("/")[1] for item in store.list(BASE)
                  if item.key.endswith("/" + MANIFEST)})
    backups = []
    for backup_id in ids:
        try:
            backups.append(read_manifest(store, key, backup_id))
        except DamagedObject as problem:
            log.warning("left out backup %s: %s", backup_id, problem)
    return backups


def choose_backup(backups: list[Backup], to_time: datetime | None, url: str) -> Backup:
    """The newest backup finished at or before `to_time` (the newest of all without one)."""
    if not backups:
        raise BackupError(f"there is no complete backup in {url}: run `peakshop backup "
                          f"--to {url}` first, or check the URL")
    if to_time is None:
        return backups[-1]
    candidates = [backup for backup in backups if backup.consistent_at <= to_time]
    if not candidates:
        raise BackupError(f"no backup in {url} is from before {iso(to_time)}: the oldest "
                          f"is from {iso(backups[0].consistent_at)}; choose a later "
                          "--to-time")
    return candidates[-1]


def wal_objects(store: Store) -> list[StoredObject]:
    return [item for item in store.list(WAL) if item.key.endswith(".enc")]


def wal_position(name: str) -> str | None:
    """The log and segment numbers of a WAL file name (timeline left out), or None."""
    match = WAL_NAME.match(name)
    return match.group(2) if match else None


def prune(store: Store, key: bytes, keep: int | None, keep_days: float | None,
          now: datetime | None = None) -> list[str]:
    """Delete backups beyond the newest `keep` and older than `keep_days`, and the WAL
    that only they needed. The newest backup always stays. Returns the deleted ids."""
    if keep is None and keep_days is None:
        return []
    backups = list_backups(store, key)
    now = now or utcnow()
    doomed = []
    for position, backup in enumerate(reversed(backups)):
        if position == 0:
            continue
        too_many = keep is not None and position >= keep
        too_old = keep_days is not None and backup.finished_at < now - timedelta(
            days=keep_days)
        if too_many or too_old:
            doomed.append(backup)
    doomed_ids = {backup.id for backup in doomed}
    keys = [item.key for item in store.list(BASE) if item.key.split("/")[1] in doomed_ids]
    # Manifests first: a backup half deleted is then simply incomplete, never misleading.
    store.delete(sorted(keys, key=lambda k: not k.endswith(MANIFEST)))
    kept = [backup for backup in backups if backup.id not in doomed_ids]
    starts = [wal_position(backup.details.get("start_wal", "")) for backup in kept
              if backup.engine == "postgresql"]
    if starts and all(starts):
        oldest_needed = min(starts)
        obsolete = [item.key for item in wal_objects(store)
                    if not item.key.endswith(".history.enc")
                    and (wal_position(item.key[len(WAL):]) or "F" * 16) < oldest_needed]
        store.delete(obsolete)
    return sorted(doomed_ids)
