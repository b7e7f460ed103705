"""A merchant's webhook receiver: a real HTTP server on loopback that verifies signatures.

`verify_peakshop_signature` is the sample from docs/status.md, standard library only, written
apart from peakshop's own signing code so that the test checks the scheme, not itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify_peakshop_signature(body: bytes, header: str, secret: str,
                              tolerance_s: int = 300) -> bool:
    fields = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp = fields.get("t", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class Receiver:
    """Collects verified events; answers 400 to a bad signature and, on request, fails the
    next few deliveries with 503 to exercise retries."""

    def __init__(self, tls: tuple[str, str] | None = None, host: str = "127.0.0.1"):
        """`tls`: (certificate file, key file) to serve https; `host`: the name in the URL."""
        self.secret = ""
        self.host = host
        self.scheme = "https" if tls else "http"
        self.events: list[dict] = []
        self.refused: list[str] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    if not verify_peakshop_signature(
                            body, self.headers.get("Peakshop-Signature", ""), receiver.secret):
                        receiver.refused.append(self.headers.get("Peakshop-Signature", ""))
                        self.send_response(400)
                        self.end_headers()
                        return
                    event = json.loads(body)
                    assert event["type"] == self.headers["Peakshop-Event"]
                    receiver.events.append(event)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.server.server_port}/hooks/peakshop"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
