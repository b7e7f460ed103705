"""Continuous archiving of PostgreSQL's write-ahead log to the store, and fetching it back.

The archiver is `peakshop backup --continuous`: a `pg_receivewal` child streaming WAL over a
replication connection into a local spool, and a loop that encrypts and uploads each
completed segment, plus the segment still being written every `--wal-interval` seconds.
Why this rather than an `archive_command`:
- the key, the store's credentials and boto3 stay in the backup process, never in the
  database server's environment or image (CloudNativePG's, a managed server's);
- the recovery point is the upload interval (10 s by default, at most 60), independent of
  how busy the shop is; an archive_command only sees completed 16 MB segments, forced by
  `archive_timeout` at the cost of a mostly empty segment per window;
- a replication slot makes the server keep WAL the archiver has not received, so a
  restarted or briefly unreachable archiver loses nothing (bound it with the server's
  `max_slot_wal_keep_size`).
`peakshop backup wal-push %p` is still there for an archive_command, where peakshop is
installed next to the server.

Objects are gzip-compressed (a partial segment is mostly zeros), then encrypted:
    wal/<segment>.enc           a completed segment (or a timeline .history file)
    wal/<segment>.partial.enc   the segment being written, replaced at every upload
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from shop.backup import catalog, crypto
from shop.backup.errors import BackupError
from shop.backup.store import Store, StoredObject

log = logging.getLogger(__name__)

PARTIAL = ".partial"
GZIP_LEVEL = 1
SLOT = "peakshop_backup"
MAX_INTERVAL_S = 60.0


def _object_key(name: str) -> str:
    return f"{catalog.WAL}{name}.enc"


def upload(path: str, name: str, store: Store, key: bytes) -> None:
    """Compress, encrypt and store one WAL file (a segment is 16 MB: held in memory)."""
    try:
        with open(path, "rb") as source:
            data = gzip.compress(source.read(), GZIP_LEVEL)
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist: wal-push takes the %p of "
                          "archive_command, run from the data directory") from None
    store.put(_object_key(name), crypto.encrypting_reader(io.BytesIO(data), key))


def push_wal(path: str, store: Store, key: bytes) -> bool:
    """Archive one WAL file (an archive_command); False when it was archived already.

    PostgreSQL retries a segment whose command failed, and may retry one whose success it
    never heard of; objects are written atomically, so one that exists is complete.
    """
    name = os.path.basename(path)
    if store.exists(_object_key(name)):
        return False
    upload(path, name, store, key)
    return True


def _segment(item: StoredObject) -> str:
    """The WAL file name an object restores as (a partial one under its segment's name)."""
    name = item.key[len(catalog.WAL):-len(".enc")]
    return name[:-len(PARTIAL)] if name.endswith(PARTIAL) else name


def to_replay(objects: list[StoredObject], start_wal: str) -> list[StoredObject]:
    """The objects a restore from a base backup starting at `start_wal` replays.

    Every timeline history; each segment from the start on, a completed one in preference
    to its partial upload. For a restore to a moment too, all of it: PostgreSQL stops
    replaying at the target by itself, but only once it has read a commit from after it,
    and that commit may lie a segment or more beyond the first one archived after the
    target (cutting the WAL there ended some restores with "recovery ended before the
    target was reached").
    """
    start = catalog.wal_position(start_wal) or "0" * 16
    history, segments = [], {}
    for item in objects:
        name = _segment(item)
        if name.endswith(".history"):
            history.append(item)
            continue
        position = catalog.wal_position(name)
        if position is None or position < start or ".backup" in name:
            continue
        partial = item.key.endswith(PARTIAL + ".enc")
        if name not in segments or not partial:
            segments[name] = item
    return history + sorted(segments.values(), key=lambda item: (item.modified, item.key))


def holds_more(uploaded: bytes, own: bytes) -> bool:
    """Whether a partial upload of a WAL segment holds WAL that `own`, another copy of the
    same segment, lacks.

    Both are copies of one stream, so where both hold WAL they agree. The upload is zeros
    past what the archiver had received (pg_receivewal fills a new segment with zeros first);
    past its own end, `own` holds zeros or what a recycled segment file left there. So the
    upload adds nothing exactly when `own` begins with everything up to its last WAL byte.
    """
    end = len(uploaded.rstrip(b"\0"))
    return own[:end] != uploaded[:end]


def fetch_for_restore(store: Store, key: bytes, backup: catalog.Backup, wal_dir: str,
                      own_wal_dir: str | None = None) -> int:
    """Decrypt the WAL a restore needs into `wal_dir`; returns how many files.

    `own_wal_dir`: the WAL the base backup carries. PostgreSQL's recovery reads a segment
    from the archive before its own pg_wal, so a partial upload made while the backup ran
    (the archiver uploads the segment being written every few seconds) would hide the
    backup's own copy, complete to the backup's end, and recovery would stop with "WAL ends
    before end of online backup". Such an upload is left out unless it holds more."""
    os.makedirs(wal_dir, exist_ok=True)
    fetched = 0
    for item in to_replay(catalog.wal_objects(store), backup.details.get("start_wal", "")):
        with store.open(item.key) as raw:
            data = gzip.decompress(b"".join(crypto.decrypted_chunks(raw, key, item.key)))
        name = _segment(item)
        own = os.path.join(own_wal_dir, name) if own_wal_dir else None
        if item.key.endswith(PARTIAL + ".enc") and own and os.path.isfile(own):
            with open(own, "rb") as copy:
                if not holds_more(data, copy.read()):
                    continue
        with open(os.path.join(wal_dir, name), "wb") as target:
            target.write(data)
        fetched += 1
    return fetched


@dataclass
class WalReceiver:
    """pg_receivewal into `spool`, and the uploads of what it receives."""

    connection: object  # postgres.Connection
    major: int
    store: Store
    key: bytes
    spool: str
    process: subprocess.Popen | None = None
    uploaded_partial: dict[str, tuple[int, int]] = field(default_factory=dict)
    uploaded_complete: set[str] = field(default_factory=set)
    uploads: int = 0

    def ensure_slot(self) -> None:
        from shop.backup.postgres import pg_bin

        created = subprocess.run(
            [pg_bin("pg_receivewal", self.major), "-d", self.connection.conninfo,
             "--slot", SLOT, "--create-slot", "--if-not-exists", "--no-password"],
            capture_output=True, text=True, env=self.connection.env, check=False)
        if created.returncode != 0:
            said = (created.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackupError(f"cannot create the replication slot {SLOT} ({said}): the "
                              "role needs the REPLICATION attribute and the server "
                              "max_replication_slots > 0")

    def start(self) -> None:
        from shop.backup.postgres import pg_bin

        os.makedirs(self.spool, exist_ok=True)
        self.process = subprocess.Popen(
            [pg_bin("pg_receivewal", self.major), "-d", self.connection.conninfo, "-D",
             self.spool, "--slot", SLOT, "--no-loop", "--no-password",
             "--status-interval", "1"],
            env=self.connection.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def why_stopped(self) -> str:
        if self.process is None or self.process.stderr is None:
            return "not started"
        if self.process.stderr.closed:
            return "stopped"
        said = self.process.stderr.read().decode(errors="replace").strip().splitlines()
        return said[-1] if said else f"exit status {self.process.returncode}"

    def sync(self) -> int:
        """Upload completed files (then drop them from the spool) and a changed partial."""
        uploaded = 0
        names = sorted(os.listdir(self.spool)) if os.path.isdir(self.spool) else []
        for name in names:
            path = os.path.join(self.spool, name)
            if name.endswith(PARTIAL):
                stat = os.stat(path)
                if self.uploaded_partial.get(name) == (stat.st_size, stat.st_mtime_ns):
                    continue
                upload(path, name, self.store, self.key)
                self.uploaded_partial = {name: (stat.st_size, stat.st_mtime_ns)}
            elif catalog.wal_position(name) or name.endswith(".history"):
                if name in self.uploaded_complete:
                    continue
                upload(path, name, self.store, self.key)
                self.uploaded_complete.add(name)
                # Its partial upload is superseded; the completed segment is what restores.
                self.store.delete([_object_key(name + PARTIAL)])
                # pg_receivewal resumes after the newest segment it finds: keep the last.
                if name != names[-1]:
                    os.remove(path)
            else:
                continue
            uploaded += 1
        self.uploads += uploaded
        return uploaded

    def forget_spool(self) -> None:
        """Start over from the slot: after the server was replaced (a restore, a new
        timeline) the spool's position means nothing to it."""
        for name in os.listdir(self.spool) if os.path.isdir(self.spool) else []:
            os.remove(os.path.join(self.spool, name))
        self.uploaded_partial, self.uploaded_complete = {}, set()

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()  # stopped on purpose: nothing in it to report


def archive_continuously(receiver: WalReceiver, interval_s: float,
                         stop: threading.Event, beat: Callable[[], None] = lambda: None) -> None:
    """Stream and upload until `stop`; a lost connection or store is retried each round.
    `beat` runs every round (a liveness heartbeat: the loop turns, even while failing)."""
    failing = False
    while not stop.is_set():
        beat()
        try:
            if not receiver.running:
                if receiver.process is not None:
                    log.warning("pg_receivewal stopped (%s); restarting",
                                receiver.why_stopped())
                    receiver.sync()
                    receiver.forget_spool()
                    receiver.process = None
                receiver.ensure_slot()
                receiver.start()
            receiver.sync()
            if failing:
                log.warning("WAL archiving works again")
            failing = False
        except BackupError as problem:
            if not failing:
                log.warning("WAL archiving failing, retrying every %.0f s: %s", interval_s,
                            problem)
            failing = True
        stop.wait(interval_s)
    receiver.stop()
    with contextlib.suppress(BackupError):
        receiver.sync()
