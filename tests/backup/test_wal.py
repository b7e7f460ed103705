"""The WAL archive: which objects a restore replays, and the archive_command's push."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from shop.backup import catalog, wal
from shop.backup.store import StoredObject, open_store
from tests.backup.support import TEST_KEY

T0 = datetime(2026, 12, 24, 18, 0, 0)
SEG = "0000000{tl}00000000000000{n:02X}"


def item(name: str, seconds: int) -> StoredObject:
    return StoredObject(f"wal/{name}.enc", 100, T0 + timedelta(seconds=seconds))


def names(objects: list[StoredObject]) -> list[str]:
    return [o.key[len("wal/"):-len(".enc")] for o in objects]


ARCHIVE = [
    item(SEG.format(tl=1, n=1), 0),                 # before the base backup
    item(SEG.format(tl=1, n=2), 10),
    item(SEG.format(tl=1, n=3), 20),
    item(SEG.format(tl=1, n=3) + ".partial", 15),   # superseded by the completed one
    item(SEG.format(tl=1, n=4) + ".partial", 30),   # the segment still being written
    item("00000002.history", 40),
]


def test_replay_starts_at_the_backup_and_prefers_completed_segments():
    """All of it, whatever the target: PostgreSQL stops at a target only once it has read a
    commit from after it, which may lie beyond the first object archived after it."""
    chosen = wal.to_replay(ARCHIVE, SEG.format(tl=1, n=2))
    assert names(chosen) == ["00000002.history", SEG.format(tl=1, n=2), SEG.format(tl=1, n=3),
                             SEG.format(tl=1, n=4) + ".partial"]


def test_push_is_idempotent_and_round_trips(tmp_path):
    store = open_store(f"file://{tmp_path / 'store'}")
    key = TEST_KEY.encode()
    segment = tmp_path / "pg_wal" / SEG.format(tl=1, n=7)
    segment.parent.mkdir()
    segment.write_bytes(os.urandom(4096) + bytes(16 * 1024 * 1024 - 4096))
    assert wal.push_wal(str(segment), store, key) is True
    assert wal.push_wal(str(segment), store, key) is False  # archived already: success
    stored = store.list("wal/")
    assert len(stored) == 1 and stored[0].size < 1024 * 1024  # gzip'd zeros

    backup = catalog.Backup("b", "postgresql", T0, T0, 0, 0, "",
                            {"start_wal": SEG.format(tl=1, n=1)})
    fetched = wal.fetch_for_restore(store, key, backup, str(tmp_path / "restore"))
    assert fetched == 1
    assert (tmp_path / "restore" / segment.name).read_bytes() == segment.read_bytes()
