"""A restore never lets an older upload of a WAL segment hide the base backup's own copy.

The archiver uploads the segment being written every few seconds, while base backups are
taken beside it: the store may hold that segment as uploaded before a base backup began or
ended, and a disaster may strike before the next upload (or the archiver may have died). The
base backup carries its own copy of that segment, complete to the backup's end; PostgreSQL's
recovery reads the archive's copy first, so a restore that fetched the older upload stopped
with "WAL ends before end of online backup" and left nothing running.

Real PostgreSQL 15 servers, `pg_receivewal` and the `peakshop` command; the store is a folder.
"""

from __future__ import annotations

import io
import os
import threading

import psycopg
import pytest

from shop.backup import catalog, postgres, wal
from shop.backup.store import open_store
from tests.backup.flow import wait_for
from tests.backup.support import TEST_KEY, DisposablePostgres, diary, peakshop, received


class HeldStore:
    """The folder store, except that the base backup's data stops flowing after its first
    chunk until `release` is set: pg_basebackup then waits, mid-backup, on its pipe."""

    def __init__(self, store, release: threading.Event) -> None:
        self.store, self.release = store, release
        self.url = store.url

    def put(self, key: str, source):
        if not key.startswith(catalog.BASE) or not key.endswith(catalog.DATA):
            return self.store.put(key, source)
        release, chunks = self.release, 0

        class Held(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer) -> int:
                nonlocal chunks
                chunks += 1
                if chunks > 1:
                    release.wait(120)
                data = source.read(len(buffer))
                buffer[:len(data)] = data
                return len(data)

        return self.store.put(key, io.BufferedReader(Held()))

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_partial_uploaded_during_the_base_backup_does_not_spoil_its_restore(file_store,
                                                                             tmp_path):
    """The race of the continuous archiver: it uploads the segment a base backup began in
    while the backup runs, and the fire comes before its next upload."""
    store_url, env = file_store
    source = DisposablePostgres.start()
    receiver = None
    release = threading.Event()
    try:
        plain = source.url().replace("+psycopg", "")
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute("CREATE TABLE diary (id serial PRIMARY KEY, note text)")
            connection.execute("INSERT INTO diary (note) VALUES ('before')")
        store = open_store(store_url)
        key = TEST_KEY.encode()
        major = int(postgres.server_facts(source.url())["server_version_num"]) // 10000
        receiver = wal.WalReceiver(postgres.connection_of(source.url()), major, store, key,
                                   str(tmp_path / "spool"))
        receiver.ensure_slot()
        receiver.start()
        made: list = []
        backing_up = threading.Thread(target=lambda: made.append(postgres.back_up(
            source.url(), HeldStore(store, release), key)))
        backing_up.start()
        with psycopg.connect(plain, autocommit=True) as connection:
            # Under way: its checkpoint written, its end not yet.
            wait_for(lambda: connection.execute(
                "SELECT count(*) FROM pg_stat_progress_basebackup "
                "WHERE phase = 'streaming database files'").fetchone()[0], "the backup",
                deadline_s=60)
            now = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            wait_for(lambda: received(connection, now), "the archiver to receive it",
                     deadline_s=60)
        receiver.sync()  # the archiver's upload ...
        receiver.stop()  # ... and its last: the fire comes first
        release.set()
        backing_up.join(timeout=120)
        assert made, "the base backup did not finish"
        assert any(wal.PARTIAL in item.key for item in catalog.wal_objects(store))

        latest_dir = source.new_data_dir("latest")
        source.kill()
        restored = peakshop("restore", "--from", store_url, "--data-dir", latest_dir, env=env)
        assert restored.returncode == 0, restored.stderr
        source.start_data_dir(latest_dir)  # (a failed recovery raises with the server's log)
        source.wait_promoted(deadline_s=60)
        assert diary(source.url()) == ["before"]
    finally:
        release.set()
        if receiver is not None:
            receiver.stop()
        source.stop()


SEGMENT = 16 * 1024 * 1024


def _wal(*chunks: bytes) -> bytes:
    data = b"".join(chunks)
    return data + bytes(SEGMENT - len(data))


@pytest.mark.parametrize(("stored", "own", "adds"), [
    # The upload stopped before the end the base backup's copy reaches: nothing to add.
    (_wal(b"A" * 100), _wal(b"A" * 100, b"B" * 50), False),
    (_wal(b"A" * 100), _wal(b"A" * 100), False),
    # It goes further: where the base backup's copy ended (zeros, or an old segment's
    # leftovers the server recycled), the upload holds WAL.
    (_wal(b"A" * 100, b"C" * 80), _wal(b"A" * 100), True),
    (_wal(b"A" * 100, b"C" * 80), _wal(b"A" * 100, b"Z" * 500), True),
    # Records may hold zero bytes: only where the two differ counts.
    (_wal(b"A" * 10, bytes(40), b"A" * 10), _wal(b"A" * 10, bytes(40), b"A" * 10, b"B"), False),
    # A copy shorter than the upload's WAL cannot hold all of it.
    (_wal(b"A" * 100), b"A" * 50, True),
    (bytes(SEGMENT), _wal(b"A"), False),
])
def test_an_upload_is_replayed_only_where_it_holds_more_than_the_backups_own_copy(stored, own,
                                                                                  adds):
    assert wal.holds_more(stored, own) is adds


def test_fetching_leaves_out_a_partial_the_backup_outgrew_and_keeps_one_that_adds(tmp_path):
    store = open_store(f"file://{tmp_path / 'store'}")
    key = TEST_KEY.encode()
    first, second = "000000010000000000000002", "000000010000000000000003"
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / (first + wal.PARTIAL)).write_bytes(_wal(b"A" * 100))
    wal.upload(str(spool / (first + wal.PARTIAL)), first + wal.PARTIAL, store, key)
    (spool / (second + wal.PARTIAL)).write_bytes(_wal(b"D" * 100))
    wal.upload(str(spool / (second + wal.PARTIAL)), second + wal.PARTIAL, store, key)
    own = tmp_path / "pg_wal"
    own.mkdir()
    (own / first).write_bytes(_wal(b"A" * 100, b"B" * 50))   # the backup reached further
    (own / second).write_bytes(_wal(b"D" * 10))              # the upload did

    backup = catalog.Backup("b", "postgresql", None, None, 0, 0, "", {"start_wal": first})
    fetched = wal.fetch_for_restore(store, key, backup, str(tmp_path / "restore"), str(own))
    assert fetched == 1
    assert sorted(os.listdir(tmp_path / "restore")) == [second]
    assert (tmp_path / "restore" / second).read_bytes() == _wal(b"D" * 100)
