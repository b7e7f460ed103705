"""localstripe, a stand-in for Stripe's API, run as a real server process on loopback.

The tests cannot reach Stripe, so the official `stripe` library talks to localstripe instead
(https://github.com/adrienverge/localstripe), through `STRIPE_API_BASE`. Run with
`python -m tests.payments.localstripe_server --port N`, this module is the server process;
imported, it starts and stops such processes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, wait_for_port

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class LocalStripe:
    port: int
    process: subprocess.Popen
    log_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, log_path: str | None = None) -> LocalStripe:
        """Start an empty localstripe on a free loopback port (or on `port`)."""
        port = port or free_port()
        if log_path is None:
            handle, log_path = tempfile.mkstemp(prefix="peakshop-localstripe-", suffix=".log")
            os.close(handle)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.payments.localstripe_server", "--port", str(port)],
                cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port)
        except RuntimeError:
            process.kill()
            raise
        return cls(port, process, log_path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start again on the same port after `stop`; the new server starts empty."""
        self.process = LocalStripe.start(self.port, self.log_path).process

    def send_webhooks_to(self, name: str, url: str, secret: str,
                         events: list[str] | None = None) -> None:
        """Have localstripe POST its events, signed with `secret`, to `url`."""
        body = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        request = urllib.request.Request(f"{self.url}/_config/webhooks/{name}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _serve(port: int) -> None:
    from aiohttp import web
    from localstripe import resources, server

    # localstripe pickles its whole store to one fixed file in /tmp after every change; test
    # servers start empty and run side by side, so they keep their store in memory only.
    resources.Store.dump_to_disk = lambda self: None
    # Loopback only, unlike `localstripe --port`, which listens on every interface.
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    _serve(parser.parse_args().port)
