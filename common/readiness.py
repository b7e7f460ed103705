"""Waiting for a server we started to answer, without mistaking another server for it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request

READY_DEADLINE_S = 60


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port, so a server we start there is the one answering."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_ready(url: str, server: subprocess.Popen, deadline_s: float = READY_DEADLINE_S) -> bool:
    """Whether `url`/readyz answered 200 within `deadline_s` while `server` kept running."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    return False
