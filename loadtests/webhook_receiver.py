"""A merchant's outage-webhook receiver for rehearsals: real HTTP on loopback, every delivery
verified as a merchant's tool would (docs/status.md, "Outage webhooks for merchants").

The rehearsal registers it for the demo shop's incident events, and the report says what
arrived: each event with its time on the rehearsal's clock, whether its signature held, and
per incident when it opened and resolved. A delivery whose signature does not verify is
answered 400 (the sender retries it) and counted apart.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shop.webhooks.signing import verify

EVENTS = ("incident.opened", "incident.updated", "incident.resolved")
MAX_BODY_BYTES = 1 << 20


@dataclass
class Delivery:
    at: float                 # wall-clock time it arrived
    event: str                # Peakshop-Event
    verified: bool
    incident_id: int | None = None
    status: str | None = None  # the incident's status in the delivery
    title: str | None = None


@dataclass
class WebhookReceiver:
    """Collects deliveries; `secret` is set once the webhook is registered."""

    secret: str = ""
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = self.headers.get("Content-Length") or "0"
                if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                    receiver._note(b"", self.headers.get("Peakshop-Event", ""), False)
                    self.send_response(400)  # no body to verify: counted as refused
                    self.end_headers()
                    return
                body = self.rfile.read(int(length))
                verified = bool(receiver.secret) and verify(
                    body, self.headers.get("Peakshop-Signature", ""), receiver.secret,
                    time.time())
                receiver._note(body, self.headers.get("Peakshop-Event", ""), verified)
                self.send_response(204 if verified else 400)
                self.end_headers()

            def log_message(self, *args) -> None:   # the rehearsal prints its own progress
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="webhook-receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks/peakshop"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; also for a receiver never started (a run that
        failed before registering it), where `shutdown` would wait for ever."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _note(self, body: bytes, event: str, verified: bool) -> None:
        incident_id = status = title = None
        if verified:
            try:
                incident = json.loads(body)["data"]["incident"]
                incident_id, status = int(incident["id"]), str(incident["status"])
                title = str(incident["title"])
            except (ValueError, KeyError, TypeError):
                pass
        with self._lock:
            self.deliveries.append(Delivery(time.time(), event, verified, incident_id, status,
                                            title))

    def summary(self, started_at: float) -> dict:
        """What arrived, on the clock of a run that started at `started_at` (epoch s)."""
        with self._lock:
            deliveries = list(self.deliveries)
        incidents: dict[int, dict] = {}
        for delivery in deliveries:
            if not delivery.verified or delivery.incident_id is None:
                continue
            seen = incidents.setdefault(delivery.incident_id, {
                "incident_id": delivery.incident_id, "title": delivery.title, "opened_at_s": None,
                "resolved_at_s": None, "updates": 0})
            at_s = round(delivery.at - started_at, 1)
            if delivery.event == "incident.opened":
                seen["opened_at_s"] = at_s
            elif delivery.event == "incident.resolved":
                seen["resolved_at_s"] = at_s
            else:
                seen["updates"] += 1
        return {"received": len(deliveries),
                "verified": sum(delivery.verified for delivery in deliveries),
                "refused": sum(not delivery.verified for delivery in deliveries),
                "events": [{"at_s": round(delivery.at - started_at, 1), "event": delivery.event,
                            "verified": delivery.verified, "incident_id": delivery.incident_id}
                           for delivery in deliveries],
                "incidents": sorted(incidents.values(), key=lambda seen: seen["incident_id"])}
