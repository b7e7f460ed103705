"""Raw HTTP/1.1 over a socket, for tests that must put exact bytes on the wire (malformed
framing, stalls) where an HTTP client would fix or refuse them first."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def connect(url: str) -> socket.socket:
    """A connection to the server at `url` (http://host:port)."""
    address = urlsplit(url)
    return socket.create_connection((address.hostname, address.port), timeout=30)


def read_answer(client: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (names in lower case) and body of the one answer on a connection the
    server closes."""
    received = b""
    while piece := client.recv(65536):
        received += piece
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip()
               for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body
