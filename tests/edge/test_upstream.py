"""The gate in front of a real gunicorn serving a stand-in app (`slow_app`: any path, after
`?sleep_s=`, counting the requests it holds at once), a real redis-server, real HTTP.

The stand-in replaces the storefront only where the storefront has no way to be slow on
demand; everything the gate does (the bound, the timeouts, Redis down) is the real thing.
"""

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.edge.conftest import start_gate
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.slow
CLIENTS = 24


def fetch_concurrently(url: str, count: int) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: requests.get(url, timeout=60), range(count)))


def test_gunicorn_never_holds_more_than_the_bound(slow_app, gate_redis, tmp_path):
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path,
                      PEAKSHOP_GATE_UPSTREAM_CONCURRENCY="3")
    try:
        # Without the gate the same crowd reaches gunicorn's 16 threads at once: the
        # counter sees the difference.
        assert all(r.status_code == 200 for r in
                   fetch_concurrently(slow_app.url + "/slow?sleep_s=0.3", CLIENTS))
        assert int(requests.get(slow_app.url + "/_max").text) > 3
        requests.get(slow_app.url + "/_reset")

        answers = fetch_concurrently(gate.url + "/slow?sleep_s=0.3", CLIENTS)
        assert [r.status_code for r in answers] == [200] * CLIENTS   # waited, not refused
        assert int(requests.get(slow_app.url + "/_max").text) == 3
    finally:
        gate.stop()


def test_the_client_address_reaches_gunicorn_and_a_forged_one_does_not(slow_app, gate_redis,
                                                                        tmp_path):
    direct = start_gate(slow_app.port, gate_redis.url, tmp_path)
    behind_balancer = start_gate(slow_app.port, gate_redis.url, tmp_path,
                                 PEAKSHOP_PROXY_HOPS="1")
    try:
        forged = {"X-Forwarded-For": "6.6.6.6"}
        # Nobody in front is trusted: the forged address is dropped, the peer's is sent.
        assert requests.get(direct.url + "/who", headers=forged).text.endswith(
            "xff=127.0.0.1")
        # One trusted balancer in front: its header is kept and the peer's appended.
        assert requests.get(behind_balancer.url + "/who", headers=forged).text.endswith(
            "xff=6.6.6.6, 127.0.0.1")
    finally:
        direct.stop()
        behind_balancer.stop()


def assert_storefront_unavailable(answer: requests.Response) -> None:
    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    body = answer.json()
    assert body["code"] == "dependency_unavailable"
    assert body["status_page"] == "/status"
    assert answer.headers["Link"] == '</status>; rel="status"'


def test_gunicorn_down_is_a_503_problem_linking_the_status_page(gate_redis, tmp_path):
    gate = start_gate(free_port(), gate_redis.url, tmp_path)   # nothing listens there
    try:
        for method, path in (("GET", "/shops/acme/"), ("POST", "/api/v1/carts/x/checkout"),
                             ("GET", "/api/v1/shops/acme/products")):
            answer = requests.request(method, gate.url + path, json={"a": 1})
            assert_storefront_unavailable(answer)
            assert "is not answering" in answer.json()["detail"]
        page = requests.get(gate.url + "/shops/acme/", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
        assert int(page.headers["Retry-After"]) > 0
        assert 'href="/status"' in page.text and "sorry" in page.text
    finally:
        gate.stop()


def test_gunicorn_too_slow_is_a_503_problem(slow_app, gate_redis, tmp_path):
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path,
                      PEAKSHOP_GATE_UPSTREAM_TIMEOUT_S="3")
    try:
        answer = requests.get(gate.url + "/slow?sleep_s=10")
        assert_storefront_unavailable(answer)
        assert "did not answer in time" in answer.json()["detail"]
        # The slot came back: the next request goes through.
        assert requests.get(gate.url + "/slow?sleep_s=0").status_code == 200
    finally:
        gate.stop()


def test_redis_down_lets_visitors_in_as_the_in_app_room_does(slow_app, tmp_path):
    """The in-app room fails open (docs/waiting-room.md): so does the gate."""
    stopped = RedisServer.start()
    stopped.stop()
    gate = start_gate(slow_app.port, stopped.url, tmp_path)
    try:
        for _ in range(3):   # the first trips the breaker, the next skip Redis
            answer = requests.get(gate.url + "/api/v1/shops/acme/products/MUG")
            assert answer.status_code == 200, answer.text
            assert answer.text.startswith("GET /api/v1/shops/acme/products/MUG")
    finally:
        gate.stop()


def test_bodies_stream_through_both_ways(slow_app, gate_redis, tmp_path):
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path)
    try:
        def chunks():
            for _ in range(64):
                yield b"x" * 16384
        answer = requests.post(gate.url + "/upload", data=chunks())   # chunked, 1 MiB
        assert answer.status_code == 200 and answer.text.startswith("POST /upload")
    finally:
        gate.stop()


def test_malformed_http_is_a_400_problem_that_echoes_nothing(slow_app, gate_redis, tmp_path):
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path)
    try:
        for raw in (b"GARBAGE<script>\r\n\r\n",
                    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nX-Huge: " + b"b" * 9000 + b"\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", gate.port), timeout=10) as connection:
                connection.sendall(raw)
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == b"400", head
            assert b"Content-Type: application/problem+json" in head
            assert json.loads(body)["status"] == 400
            assert b"<script>" not in answer and b"aaaa" not in answer and b"bbbb" not in answer
    finally:
        gate.stop()


def test_clients_that_give_up_give_their_slot_back(slow_app, gate_redis, tmp_path):
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path,
                      PEAKSHOP_GATE_UPSTREAM_CONCURRENCY="1")
    try:
        for _ in range(3):
            with pytest.raises(requests.Timeout):
                requests.get(gate.url + "/slow?sleep_s=1", timeout=0.3)
        # Each left its request in gunicorn; once those finish, the one slot is free again.
        assert requests.get(gate.url + "/slow?sleep_s=0", timeout=30).status_code == 200
        assert requests.get(gate.url + "/slow?sleep_s=0", timeout=30).status_code == 200
    finally:
        gate.stop()


def test_the_gate_files_its_queue_where_the_scalers_push_listens(slow_app, gate_redis, tmp_path):
    """Behind the gate the crowd waits in the gate, not in gunicorn's listen backlog: with
    PEAKSHOP_PUBLISH_BACKLOG on, the gate's queue is on the board the scaler's push reads."""
    import redis

    from common import pushed_backlog

    client = redis.Redis.from_url(gate_redis.url)
    client.delete(pushed_backlog.KEY)
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path, HOSTNAME="web-7",
                      PEAKSHOP_GATE_UPSTREAM_CONCURRENCY="2", PEAKSHOP_PUBLISH_BACKLOG="true")
    seen: list[int] = []
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = [pool.submit(requests.get, gate.url + "/slow?sleep_s=1.5", timeout=60)
                       for _ in range(CLIENTS)]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and max(seen, default=0) < CLIENTS // 2:
                board = pushed_backlog.read(client)
                if board.waiting is not None:
                    seen.append(board.waiting)
                time.sleep(0.2)
            assert all(answer.result().status_code == 200 for answer in answers)
        # 2 in gunicorn, the rest filed as waiting
        assert max(seen, default=0) >= CLIENTS // 2, seen
        assert b"web-7/gate" in client.hkeys(pushed_backlog.KEY)
    finally:
        gate.stop()
