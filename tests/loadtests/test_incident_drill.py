"""`peakshop rehearse --payments-outage`: the dummy payment provider goes down mid-run,
checkout fails, the burn-rate rule opens an incident by itself, and the demo shop's webhook
receiver gets it with a valid signature; the report says when, and draws it.

Real parts throughout: gunicorn, the order worker (which evaluates the burn rate and sends
the webhooks), Redis, Locust, HTTP on loopback. The incident's resolution needs the
rule's 5-minute window to pass over the outage, longer than a test should run: the recorded
drill in docs/status.md ("A drill during a rehearsal") shows it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import requests

from loadtests.webhook_receiver import WebhookReceiver
from tests.loadtests.test_rehearse import rehearse, short_trace


def signed(secret: str, body: bytes) -> str:
    stamp = str(int(time.time()))
    return f"t={stamp},v1=" + hmac.new(secret.encode(), stamp.encode() + b"." + body,
                                       hashlib.sha256).hexdigest()


def test_the_receiver_takes_signed_deliveries_and_refuses_the_others():
    receiver = WebhookReceiver(secret="whsec_test").start()
    try:
        body = json.dumps({"type": "incident.opened", "data": {"incident": {
            "id": 7, "status": "investigating", "title": "Checkout is failing"}}}).encode()
        good = requests.post(receiver.url, data=body, timeout=5, headers={
            "Peakshop-Event": "incident.opened", "Peakshop-Signature": signed("whsec_test", body)})
        forged = requests.post(receiver.url, data=body, timeout=5, headers={
            "Peakshop-Event": "incident.opened", "Peakshop-Signature": signed("whsec_other", body)})
        unsigned = requests.post(receiver.url, data=b"{}", timeout=5)
    finally:
        receiver.stop()
    assert (good.status_code, forged.status_code, unsigned.status_code) == (204, 400, 400)
    summary = receiver.summary(started_at=time.time() - 10)
    assert (summary["received"], summary["verified"], summary["refused"]) == (3, 1, 2)
    [incident] = summary["incidents"]
    opened_at_s = incident.pop("opened_at_s")
    assert incident == {"incident_id": 7, "title": "Checkout is failing",
                        "resolved_at_s": None, "updates": 0}
    assert 9 <= opened_at_s <= 16   # on the clock of a run that started 10 s before


def test_a_delivery_without_a_usable_length_is_refused_and_counted():
    """A Content-Length that is not a number, or over the 1 MiB the receiver reads, is a 400
    counted as refused, and the receiver keeps serving."""
    receiver = WebhookReceiver(secret="whsec_test").start()
    try:
        host, port = "127.0.0.1", int(receiver.url.split(":")[2].split("/")[0])
        for length in ("twelve", "-1", str(2 << 20)):
            with socket.create_connection((host, port), timeout=10) as connection:
                connection.sendall(f"POST /hooks/peakshop HTTP/1.1\r\nHost: {host}\r\n"
                                   f"Content-Length: {length}\r\n\r\n".encode())
                assert connection.recv(64).startswith(b"HTTP/1.0 400"), length
        assert requests.post(receiver.url, data=b"{}", timeout=10).status_code == 400
        assert receiver.summary(time.time())["refused"] == 4
    finally:
        receiver.stop()


def test_a_receiver_never_started_stops_at_once():
    """A rehearsal that fails before registering its receiver still stops it on the way out."""
    WebhookReceiver().stop()


def test_a_payment_outage_opens_an_incident_whose_webhook_arrives_signed(tmp_path):
    report = tmp_path / "report"
    completed = rehearse("--trace", str(short_trace(tmp_path, seconds=50, rate=30.0)),
                         "--no-scaler", "--payments-outage", "3:40", "--report", str(report),
                         "--drain-timeout", "60")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    outage = summary["payments_outage"]
    assert outage["start_s"] == 3 and outage["seconds"] == 40
    assert 3 <= outage["started_at_s"] <= 8
    assert summary["errors"] >= 1                          # checkouts refused by the outage
    assert summary["orders_confirmed"] == summary["orders_placed"]  # and none lost
    hooks = summary["webhooks"]
    assert hooks["refused"] == 0 and hooks["verified"] >= 1
    opened = [incident for incident in hooks["incidents"] if incident["opened_at_s"]]
    assert opened, hooks
    assert opened[0]["title"] == "Checkout is failing for some customers"
    assert opened[0]["opened_at_s"] > outage["started_at_s"]
    assert "incident 1 (Checkout is failing for some customers): webhook opened at t=" in (
        completed.stdout)
    assert (report / "timeline.png").read_bytes()[:4] == b"\x89PNG"
