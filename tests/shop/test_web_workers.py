"""`peakshop serve`'s gunicorn workers against clients that stop sending or send what gunicorn
refuses before the app sees it.

Real parts: `peakshop serve` (gunicorn, two sync workers, the app on SQLite) and a real Redis;
the clients are raw sockets, so the bytes on the wire are exactly the ones written here.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.support import live, raw_http

pytestmark = pytest.mark.slow
READ_TIMEOUT_S = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.on_sqlite(tmp_path_factory.mktemp("web-workers"),
                        PEAKSHOP_WEB_READ_TIMEOUT_S=str(READ_TIMEOUT_S)) as server:
        yield server


def _problem(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, str, dict]:
    status, headers, body = answer
    return status, headers.get("content-type", ""), json.loads(body)


@pytest.mark.parametrize("sent", [
    pytest.param(b"POST /api/v1/merchants HTTP/1.1\r\nHost: shop\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":",
                 id="body cut short"),
    pytest.param(b"GET /api/v1/status HTTP/1.1\r\nHost: sh", id="headers cut short"),
])
def test_a_client_that_stops_sending_gets_408_and_lets_go_of_its_worker(server, sent):
    # As many stalled clients as there are workers: before, they held both until gunicorn's
    # timeout killed them (30 s), and nothing else was served meanwhile.
    stalled = [raw_http.connect(server.url) for _ in range(2)]
    for client in stalled:
        client.sendall(sent)
    started = time.monotonic()
    health = requests.get(server.url + "/healthz", timeout=30)
    waited = time.monotonic() - started
    answers = [_problem(raw_http.read_answer(client)) for client in stalled]
    for client in stalled:
        client.close()

    assert health.status_code == 200
    # Served once a stalled client was let go: a read timeout, not gunicorn's 30 s.
    assert waited < 15
    for status, content_type, problem in answers:
        assert (status, content_type) == (408, "application/problem+json")
        assert problem["status"] == 408 and "stopped arriving" in problem["detail"]


def test_a_slow_but_steady_client_is_served(server):
    """The timeout is between reads, not for the whole request: a body that keeps coming,
    however slowly, is read to its end."""
    body = json.dumps({"name": "Slow Steady", "email": "slow@example.com",
                       "password": "correct horse battery staple"}).encode()
    client = raw_http.connect(server.url)
    client.sendall(b"POST /api/v1/merchants HTTP/1.1\r\nHost: shop\r\n"
                   b"Content-Type: application/json\r\nContent-Length: "
                   + str(len(body)).encode() + b"\r\n\r\n")
    pieces = [body[i:i + len(body) // 4 + 1] for i in range(0, len(body), len(body) // 4 + 1)]
    for piece in pieces:  # the whole body takes longer than one read timeout
        time.sleep(READ_TIMEOUT_S * 0.6)
        client.sendall(piece)
    status, _headers, answer = raw_http.read_answer(client)
    client.close()
    assert status == 201, answer


@pytest.mark.parametrize(("sent", "status"), [
    pytest.param(b"GET /api/v1/" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: shop\r\n\r\n", 414,
                 id="request line too long"),
    pytest.param(b"GET /api/v1/status HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer "
                 + b"x" * 10_000 + b"\r\n\r\n", 431, id="header too long"),
    pytest.param(b"GET /api/v1/status HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: a\x01b\r\n\r\n",
                 400, id="control character in a header"),
    pytest.param(b"GET /api/v1/status HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer \x7f\r\n\r\n",
                 400, id="DEL in a header"),
    pytest.param(b"BREW /api/v1/status HTTP/9.9\r\nHost: shop\r\n\r\n", 400,
                 id="not HTTP/1.x"),
])
def test_what_gunicorn_refuses_itself_is_answered_in_problem_json(server, sent, status):
    client = raw_http.connect(server.url)
    client.sendall(sent)
    answered, content_type, problem = _problem(raw_http.read_answer(client))
    client.close()
    assert (answered, content_type) == (status, "application/problem+json")
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert set(problem) >= {"type", "title", "status", "detail"}


def test_many_stalls_in_a_row_never_take_the_server_down(server):
    """Stalled clients arriving one after another, alongside ordinary requests."""
    def stall() -> None:
        client = raw_http.connect(server.url)
        client.sendall(b"GET /healthz HTTP/1.1\r\n")
        raw_http.read_answer(client)
        client.close()

    threads = [threading.Thread(target=stall) for _ in range(6)]
    for thread in threads:
        thread.start()
    answers = [requests.get(server.url + "/api/v1/status", timeout=30).status_code
               for _ in range(5)]
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * 5
    assert not any(thread.is_alive() for thread in threads)
