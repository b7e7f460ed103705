"""A plain listening socket nobody accepts on, and a patient reader of what the kernel says.

Connections to it wait in the kernel's accept queue, exactly as requests wait for a busy
gunicorn worker; the tests of the listen-backlog readers count them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server
    server.close()


def eventually(read: Callable[[], object], expected: object, deadline_s: float = 10.0):
    """The last value read, once it equals `expected` or the deadline passed (the kernel
    queues a connect at once, but a test never waits forever; never timed)."""
    give_up = time.monotonic() + deadline_s
    value = read()
    while value != expected and time.monotonic() < give_up:
        time.sleep(0.02)
        value = read()
    return value
