"""Requests waiting for a free worker: the accept queue of the storefront's listen socket.

Once every gunicorn worker is busy, new connections wait in the kernel until one is free.
That wait is invisible to the request-latency histogram, whose clock starts when a worker
takes the request, yet shoppers feel all of it. Linux shows the queue in /proc/net/tcp:
for a listening socket the rx_queue column counts the connections not yet accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")
_TCP_LISTEN = b"0A"   # the socket state column of /proc/net/tcp


def listen_backlog(port: int, proc: Path = PROC) -> int | None:
    """Connections waiting to be accepted on the TCP socket(s) listening on `port` in this
    network namespace; None if nothing listens there (or this is not Linux)."""
    # IPv6 second, and only when IPv4 has nothing: even an empty tcp6 table costs the kernel
    # a walk over every IPv4 connection (milliseconds on a busy server).
    for table in ("tcp", "tcp6"):
        waiting, found = 0, False
        try:
            for fields in _listening_sockets(proc / "net" / table):
                # sl local_address rem_address st tx_queue:rx_queue ...
                if int(fields[1].rsplit(b":", 1)[1], 16) == port:
                    found = True
                    waiting += int(fields[4].split(b":")[1], 16)
        except OSError:
            continue
        if found:
            return waiting
    return None


def _listening_sockets(table: Path) -> Iterator[list[bytes]]:
    """The fields of each listening socket's line of a /proc/net/tcp table.

    The kernel lists listening sockets first and formats the file as it is read, so reading
    page by page and stopping at the first other state spares it formatting the tens of
    thousands of TIME_WAIT entries of a busy server (tens of milliseconds per read).
    """
    fd = os.open(table, os.O_RDONLY)
    try:
        pending, header = b"", True
        while chunk := os.read(fd, 4096):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if header:
                    header = False
                    continue
                fields = line.split()
                if fields[3] != _TCP_LISTEN:
                    return
                yield fields
    finally:
        os.close(fd)


def bind_port(bind: str) -> int:
    """The port of a HOST:PORT bind address."""
    return int(bind.rpartition(":")[2])
