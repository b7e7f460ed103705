"""The edges that only a real server shows: `peakshop serve` (gunicorn) over real sockets.

One server per database: raw HTTP that no client library would send, the metrics port, and
the log output (access and app logs) checked for secrets.
"""

from __future__ import annotations

import json
import signal
import socket
from urllib.parse import urlparse

import psutil
import pytest
import requests

from tests.support.api import ADDRESS
from tests.support.live import LiveServer
from tests.support.servers import free_port

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery staple"


@pytest.fixture
def live(database_url, redis_server, redis_client, tmp_path):
    metrics_port = free_port()
    access_log = tmp_path / "access.log"
    server = LiveServer.start(
        database_url=database_url, redis_url=redis_server.url,
        instance_path=str(tmp_path / "instance"), workers=2,
        extra_env={"PEAKSHOP_METRICS_BIND": f"127.0.0.1:{metrics_port}",
                   "PEAKSHOP_ACCESS_LOG": str(access_log), "PEAKSHOP_LOG_JSON": "true"})
    server.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    server.access_log = access_log
    server.metrics_dir = tmp_path / "instance" / "metrics"
    yield server
    server.stop()


def raw(url: str, request: bytes) -> tuple[int, bytes, bytes]:
    """Send bytes as they are; (status, headers, body) of the answer."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def request_bytes(method: str, path: bytes, headers: list[tuple[str, str]],
                  body: bytes = b"") -> bytes:
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: shop",
             b"Connection: close"]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def assert_problem(status: int, head: bytes, body: bytes, *allowed: int) -> None:
    assert 400 <= status < 500 and (not allowed or status in allowed), (status, body[:300])
    assert b"application/problem+json" in head, (head, body[-300:])


def test_raw_hostile_http_through_gunicorn(live):
    """Bytes a library would never send: no 500, and the app (not gunicorn) answers."""
    signup = requests.post(f"{live.url}/api/v1/merchants", timeout=10, json={
        "name": "Raw", "email": "raw@example.com", "password": PASSWORD}).json()
    slug = signup["merchant"]["slug"]
    cart = requests.post(f"{live.url}/api/v1/shops/{slug}/carts", timeout=10).json()["cart_id"]
    json_type = [("Content-Type", "application/json")]
    cases = [
        ("POST", b"/api/v1/merchants", json_type, b"[" * 60_000, (400,)),
        ("POST", b"/api/v1/merchants", json_type, b'{"name": "\xff\xfe"}', (400,)),
        ("POST", b"/api/v1/merchants", json_type, b'{"name": "\\ud800", "email": "a@b.co", '
                                                  b'"password": "long enough"}', (422,)),
        ("GET", b"/api/v1/shops/%00/products", [], b"", (400,)),
        ("GET", b"/api/v1/shops/" + slug.encode() + b"/products?limit=%D9%A1%D9%A2", [], b"",
         (422,)),
        ("GET", b"/api/v1/shops/" + slug.encode() + b"/products?q=" + b"x" * 5000, [], b"",
         (414,)),
        ("PATCH", b"/api/v1/shops/" + slug.encode() + b"/carriers/99999999999999999999",
         json_type, b"{}", (401, 404)),
    ]
    for method, path, headers, body, allowed in cases:
        status, head, answer = raw(live.url, request_bytes(method, path, headers, body))
        assert_problem(status, head, answer + repr(path[:60]).encode(), *allowed)
    # Two Content-Type headers could smuggle a body past a proxy: gunicorn itself refuses
    # them with a 400 before the app is called (its page is HTML; never a 5xx).
    for method, path in (("POST", b"/api/v1/merchants"),
                         ("PUT", f"/api/v1/carts/{cart}/items/TEA".encode())):
        status, _, answer = raw(live.url, request_bytes(
            method, path, [("Content-Type", "application/json"),
                           ("Content-Type", "text/plain")], b'{"quantity": 1}'))
        assert status == 400 and b"CONTENT-TYPE" in answer.upper(), (status, answer[:300])
    # So are bytes that are not UTF-8 in the request line.
    status, _, answer = raw(live.url, request_bytes("GET", b"/api/v1/shops/\xc3\x28/products",
                                                    []))
    assert status == 400, (status, answer[:300])
    chunked = (b"POST /api/v1/merchants HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"9c40\r\n" + b"[" * 40_000 + b"\r\n0\r\n\r\n")
    status, head, answer = raw(live.url, chunked)
    assert_problem(status, head, answer, 400)


def test_metrics_on_their_own_port(live):
    """The master serves the workers' merged metrics on PEAKSHOP_METRICS_BIND; both ports
    name their charset once (Prometheus 3 refuses a doubled one). A sample file still empty
    (a process killed between creating and sizing it) fails neither."""
    (live.metrics_dir / "counter_999999.db").write_bytes(b"")
    for _ in range(3):
        assert requests.get(f"{live.url}/healthz", timeout=10).status_code == 200
    separate = requests.get(live.metrics_url, timeout=10)
    assert separate.status_code == 200
    assert separate.headers["Content-Type"].count("charset") == 1
    assert 'peakshop_http_requests_total{method="GET",route="/healthz",status="200"}' in (
        separate.text)
    assert "peakshop_queue_up" in separate.text  # scrape-time collectors run there too
    public = requests.get(f"{live.url}/metrics", timeout=10)
    assert public.status_code == 200, public.text[:300]
    assert public.headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert requests.get(live.metrics_url.replace("/metrics", "/api/v1/openapi.json"),
                        timeout=10).text.startswith("# HELP")  # no API on that port


def test_no_secret_reaches_the_logs(live):
    """Passwords, merchant tokens, order access tokens and Authorization values appear in
    neither gunicorn's access log nor the app's log, even when requests fail."""
    url = live.url
    signup = requests.post(f"{url}/api/v1/merchants", timeout=10, json={
        "name": "Logs", "email": "logs@example.com", "password": PASSWORD}).json()
    slug, token = signup["merchant"]["slug"], signup["token"]
    auth = {"Authorization": f"Bearer {token}"}
    requests.post(f"{url}/api/v1/shops/{slug}/products", headers=auth, timeout=10,
                  json={"sku": "TEA", "name": "Tea", "price": 300, "stock": 5})
    cart = requests.post(f"{url}/api/v1/shops/{slug}/carts", timeout=10).json()["cart_id"]
    requests.put(f"{url}/api/v1/carts/{cart}/items/TEA", json={"quantity": 1}, timeout=10)
    order = requests.post(f"{url}/api/v1/carts/{cart}/checkout", timeout=10, json={
        "email": "s@example.com", "shipping_address": ADDRESS,
        "payment": {"gateway": "dummy", "token": "tok_ok"}}).json()
    access_token = order["access_token"]
    requests.get(f"{url}/api/v1/orders/{order['order_id']}", timeout=10,
                 headers={"Authorization": f"Bearer {access_token}"})
    requests.get(f"{url}/orders/{order['order_id']}?token={access_token}", timeout=10)
    requests.post(f"{url}/api/v1/tokens", json={"email": "logs@example.com",
                                                "password": PASSWORD + "x"}, timeout=10)
    requests.post(f"{url}/api/v1/merchants", timeout=10, json={   # 409: e-mail taken
        "name": "Logs", "email": "logs@example.com", "password": PASSWORD})
    requests.get(f"{url}/api/v1/shops/{slug}/orders?token={token}&password={PASSWORD}",
                 headers=auth, timeout=10)
    live.process.send_signal(signal.SIGTERM)  # stop, but read stderr before it is closed
    app_log = live.process.communicate(timeout=60)[1].decode()
    access = live.access_log.read_text()
    assert "Booting worker" in app_log or "Listening at" in app_log  # it is gunicorn's stderr
    assert f"/orders/{order['order_id']}" in access  # the access log did record the calls
    for secret in (PASSWORD, token, token[4:], access_token):
        assert secret not in access, secret
        assert secret not in app_log, secret


def test_an_aborted_worker_logs_where_its_threads_were(live):
    """gunicorn aborts (SIGABRT) a worker silent past its timeout; the worker then logs every
    thread's stack in one record of the log's format, what ops need to tell why it hung. A
    real timeout needs a real hang: the signal is sent here as gunicorn's master sends it."""
    assert requests.get(f"{live.url}/healthz", timeout=10).status_code == 200
    workers = psutil.Process(live.process.pid).children()
    assert workers, "gunicorn started no worker"
    aborted = workers[0]
    aborted.send_signal(signal.SIGABRT)
    aborted.wait(timeout=30)
    live.wait_ready()  # the master replaced it
    live.process.send_signal(signal.SIGTERM)
    log = live.process.communicate(timeout=60)[1].decode()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    dumps = [record for record in records if "threads were at" in record["message"]]
    assert len(dumps) == 1, log[-3000:]
    assert dumps[0]["level"] == "CRITICAL"
    assert f"worker {aborted.pid} aborted" in dumps[0]["message"]
    assert "Thread MainThread:" in dumps[0]["message"]
    assert "gunicorn/workers/sync.py" in dumps[0]["message"]  # where the idle worker waited
