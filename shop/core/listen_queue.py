"""Requests waiting for a free worker: the accept queue of the storefront's listen socket.

Once every gunicorn worker is busy, new connections wait in the kernel until one is free.
That wait is invisible to the request-latency histogram, whose clock starts when a worker
takes the request, yet shoppers feel all of it. Linux shows the queue in /proc/net/tcp:
for a listening socket the rx_queue column counts the connections not yet accepted.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")
_TCP_LISTEN = "0A"   # the socket state column of /proc/net/tcp


def listen_backlog(port: int, proc: Path = PROC) -> int | None:
    """Connections waiting to be accepted on the TCP socket(s) listening on `port` in this
    network namespace; None if nothing listens there (or this is not Linux)."""
    waiting, found = 0, False
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            # sl local_address rem_address st tx_queue:rx_queue ...
            fields = line.split()
            if fields[3] == _TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found = True
                waiting += int(fields[4].split(":")[1], 16)
    return waiting if found else None


def bind_port(bind: str) -> int:
    """The port of a HOST:PORT bind address."""
    return int(bind.rpartition(":")[2])
