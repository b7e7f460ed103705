"""Encryption of stored objects: round trip in chunks, and every way it must refuse."""

from __future__ import annotations

import io
import os

import pytest

from shop.backup import crypto
from shop.backup.errors import BackupError

KEY = b"k" * 44


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(crypto, "CHUNK_BYTES", 1024)


def seal(data: bytes, key: bytes = KEY) -> bytes:
    return crypto.encrypting_reader(io.BytesIO(data), key).read()


def unseal(sealed: bytes, key: bytes = KEY) -> bytes:
    return b"".join(crypto.decrypted_chunks(io.BytesIO(sealed), key, "test object"))


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5 * 1024 + 7])
def test_round_trip_across_chunk_boundaries(size):
    data = os.urandom(size)
    sealed = seal(data)
    assert size < 16 or data not in sealed
    assert unseal(sealed) == data


def test_same_plaintext_seals_differently_each_time():
    assert seal(b"order 42") != seal(b"order 42")


def test_wrong_key_is_named_as_such():
    with pytest.raises(BackupError, match="PEAKSHOP_BACKUP_KEY does not open test object"):
        unseal(seal(b"secret"), b"x" * 44)


def test_flipped_bit_is_damage():
    sealed = bytearray(seal(os.urandom(3000)))
    sealed[crypto.HEADER_BYTES + 1500] ^= 1
    with pytest.raises(BackupError, match="damaged or incomplete"):
        unseal(bytes(sealed))


def test_cut_short_at_a_chunk_boundary_is_damage():
    sealed = seal(os.urandom(3000))
    first_two_chunks = crypto.HEADER_BYTES + 2 * (1024 + crypto.TAG_BYTES)
    with pytest.raises(BackupError, match="damaged or incomplete"):
        unseal(sealed[:first_two_chunks])


def test_something_else_is_not_a_backup():
    with pytest.raises(BackupError, match="not a peakshop backup object"):
        unseal(b"PK\x03\x04 a zip file, say")


@pytest.mark.parametrize("value, expected", [
    ("", "is not set"), ("short", "too short"), (" " * 40, "is not set|too short")])
def test_key_must_be_set_and_long(value, expected):
    with pytest.raises(BackupError, match=expected):
        crypto.load_key({"PEAKSHOP_BACKUP_KEY": value})
