"""Encryption before anything leaves: AES-256-GCM over fixed-size chunks, streamed.

Every stored object is

    MAGIC (16) | salt (16) | key check (16) | chunk | chunk | ... | final chunk

Each object gets its own AES key, derived with HKDF-SHA256 from PEAKSHOP_BACKUP_KEY and the
object's random salt, so nonces never repeat across objects. A chunk is up to CHUNK_BYTES of
plaintext sealed with a 16-byte tag; its nonce is the chunk's index plus a flag marking the
last chunk (the STREAM construction), so reordering, dropping or cutting off chunks fails
authentication. The header is the associated data of every chunk. The key check lets a wrong
key be told apart from a damaged object. The store only ever sees ciphertext.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shop.backup.errors import BackupError, DamagedObject

KEY_VARIABLE = "PEAKSHOP_BACKUP_KEY"
MAGIC = b"peakshop-backup1"
SALT_BYTES = 16
CHECK_BYTES = 16
HEADER_BYTES = len(MAGIC) + SALT_BYTES + CHECK_BYTES
CHUNK_BYTES = 1024 * 1024
TAG_BYTES = 16
# HKDF is only as strong as its input: the key must be random, not a password.
MIN_KEY_CHARS = 32
GENERATE_HINT = "generate one with `openssl rand -base64 32` and keep it outside the store"


def load_key(environ: Mapping[str, str] | None = None) -> bytes:
    """PEAKSHOP_BACKUP_KEY as bytes; BackupError naming the fix when unset or too short."""
    environ = os.environ if environ is None else environ
    value = environ.get(KEY_VARIABLE, "")
    if not value:
        raise BackupError(f"{KEY_VARIABLE} is not set: backups are encrypted before they "
                          f"leave; {GENERATE_HINT}")
    if len(value.strip()) < MIN_KEY_CHARS:
        raise BackupError(f"{KEY_VARIABLE} is too short ({len(value.strip())} characters, "
                          f"at least {MIN_KEY_CHARS}): {GENERATE_HINT}")
    try:
        return value.strip().encode()
    except UnicodeEncodeError:  # bytes the environment held that are not text
        raise BackupError(f"{KEY_VARIABLE} is not text (it holds bytes that are not UTF-8): "
                          f"{GENERATE_HINT}") from None


def _derive(key: bytes, salt: bytes) -> tuple[AESGCM, bytes]:
    material = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt,
                    info=b"peakshop backup object").derive(key)
    check = hashlib.sha256(material[32:]).digest()[:CHECK_BYTES]
    return AESGCM(material[:32]), check


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def encrypted_chunks(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The header, then each sealed chunk of `source`, read CHUNK_BYTES at a time."""
    salt = os.urandom(SALT_BYTES)
    cipher, check = _derive(key, salt)
    header = MAGIC + salt + check
    yield header
    index = 0
    chunk = _read_full(source, CHUNK_BYTES)
    while True:
        # One chunk of look-ahead: the last chunk must be known as such when it is sealed.
        following = _read_full(source, CHUNK_BYTES) if len(chunk) == CHUNK_BYTES else b""
        last = not following
        yield cipher.encrypt(_nonce(index, last), chunk, header)
        if last:
            return
        chunk, index = following, index + 1


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Exactly `size` bytes unless the source ends first (pipes return short reads)."""
    parts, wanted = [], size
    while wanted:
        part = source.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


class IteratorReader(io.RawIOBase):
    """A read-only file over an iterator of byte strings (what boto3's upload wants)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self.bytes_read += size
        return size


def encrypting_reader(source: BinaryIO, key: bytes) -> io.BufferedReader:
    """A file whose contents are `source` encrypted, produced as it is read."""
    return io.BufferedReader(IteratorReader(encrypted_chunks(source, key)),
                             buffer_size=CHUNK_BYTES)


def decrypted_chunks(source: BinaryIO, key: bytes, name: str) -> Iterator[bytes]:
    """The plaintext of an object written by `encrypted_chunks`, chunk by chunk.

    BackupError when the key is not the one it was made with, or the object is damaged or
    cut short; `name` says which object in the message.
    """
    header = _read_full(source, HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise DamagedObject(f"{name} is not a peakshop backup object (damaged, or written by "
                          "something else): restore from another backup")
    cipher, check = _derive(key, header[len(MAGIC):len(MAGIC) + SALT_BYTES])
    if not hmac.compare_digest(check, header[-CHECK_BYTES:]):
        raise BackupError(f"{KEY_VARIABLE} does not open {name}: set it to the key the "
                          "backup was made with")
    index = 0
    sealed = _read_full(source, CHUNK_BYTES + TAG_BYTES)
    while True:
        following = (_read_full(source, CHUNK_BYTES + TAG_BYTES)
                     if len(sealed) == CHUNK_BYTES + TAG_BYTES else b"")
        last = not following
        try:
            yield cipher.decrypt(_nonce(index, last), sealed, header)
        except InvalidTag:
            raise DamagedObject(f"{name} is damaged or incomplete (chunk {index} fails its "
                              "check): restore from another backup") from None
        if last:
            return
        sealed, index = following, index + 1


def decrypting_reader(source: BinaryIO, key: bytes, name: str) -> io.BufferedReader:
    """A file whose contents are the plaintext of `source`, decrypted as it is read."""
    return io.BufferedReader(IteratorReader(decrypted_chunks(source, key, name)),
                             buffer_size=CHUNK_BYTES)
