"""A reverse proxy in front of localstripe that records every request and can play a sick Stripe.

localstripe (the stand-in for Stripe's API) always answers promptly and ignores idempotency
keys; this proxy lets a test see the headers the `stripe` library really sent and answer with
the 5xx and 429 responses Stripe gives under load. It is a real HTTP server on loopback.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    form: dict[str, str]     # the form-encoded body, as the `stripe` library sends it


@dataclass(frozen=True)
class Failure:
    status: int
    error_type: str
    message: str


class StripeProxy:
    def __init__(self, upstream_url: str):
        upstream = urlparse(upstream_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.requests: list[RecordedRequest] = []
        self.failure: Failure | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StripeProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def fail_with(self, status: int, error_type: str, message: str) -> None:
        """Answer every request with this error instead of forwarding it."""
        self.failure = Failure(status, error_type, message)

    def heal(self) -> None:
        self.failure = None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def posts_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path == path]


def _handler_for(proxy: StripeProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._relay()

        def do_POST(self) -> None:
            self._relay()

        def do_DELETE(self) -> None:
            self._relay()

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - base signature
            pass

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            proxy.record(RecordedRequest(self.command, self.path.split("?")[0],
                                         {k.lower(): v for k, v in self.headers.items()},
                                         dict(parse_qsl(body.decode(errors="replace")))))
            failure = proxy.failure
            if failure is not None:
                payload = json.dumps({"error": {"type": failure.error_type,
                                                "message": failure.message}}).encode()
                self._answer(failure.status, "application/json", payload)
                return
            connection = http.client.HTTPConnection(*proxy.upstream, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                self._answer(response.status, response.getheader("Content-Type", ""),
                             response.read())
            finally:
                connection.close()

        def _answer(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

    return Handler
