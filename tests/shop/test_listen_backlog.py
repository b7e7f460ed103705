"""Requests waiting for a free worker: the accept queue of the storefront's listen socket.

The request-latency histogram starts its clock when a worker takes a request, so a shop
whose workers are all busy looks fast from the inside while shoppers wait. These tests
read the queue from the real kernel tables: of plain sockets, and of a real gunicorn
storefront whose only worker is stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from common.listen_queue import bind_port, listen_backlog
from scaler.signals.procfs import ListenBacklog, children_of
from shop.core.metrics import ListenBacklogCollector
from tests.support import listening
from tests.support.listening import eventually
from tests.support.live import LiveServer

listener = listening.listener


def test_connections_nobody_accepted_are_counted_until_accepted(listener):
    port = listener.getsockname()[1]
    assert listen_backlog(port) == 0
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        assert eventually(lambda: listen_backlog(port), 3) == 3
        accepted = [listener.accept()[0] for _ in range(2)]
        assert eventually(ListenBacklog(port).waiting, 1) == 1
        for connection in accepted:
            connection.close()
    finally:
        for client in clients:
            client.close()


def test_a_port_nobody_listens_on_has_no_backlog_and_no_gauge(listener):
    # A connected client's own port is not listening: no reading, rather than a false 0.
    client = socket.create_connection(listener.getsockname())
    try:
        port = client.getsockname()[1]
        assert listen_backlog(port) is None
        assert list(ListenBacklogCollector(port).collect()) == []
    finally:
        client.close()


def test_the_gauge_counts_what_waits(listener):
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    try:
        eventually(lambda: listen_backlog(port), 2)
        (family,) = ListenBacklogCollector(port).collect()
        assert family.name == "peakshop_http_listen_backlog"
        assert [sample.value for sample in family.samples] == [2]
    finally:
        for client in clients:
            client.close()


def test_bind_port_of_host_port_addresses():
    assert bind_port("127.0.0.1:8000") == 8000
    assert bind_port("0.0.0.0:80") == 80
    assert bind_port("[::1]:8443") == 8443


@pytest.fixture
def one_worker_storefront(sqlite_template, redis_server, tmp_path):
    database = tmp_path / "shop.sqlite3"
    shutil.copy(sqlite_template, database)
    server = LiveServer.start(database_url=f"sqlite:///{database}", redis_url=redis_server.url,
                              instance_path=str(tmp_path / "live"), workers=1)
    yield server
    server.stop()


def test_requests_queued_behind_a_busy_worker_are_seen_and_then_served(one_worker_storefront):
    url = one_worker_storefront.url
    port = urlparse(url).port
    exposition = requests.get(url + "/metrics", timeout=10).text
    assert "peakshop_http_listen_backlog 0.0" in exposition
    master = int(Path(one_worker_storefront.pidfile).read_text())
    (worker,) = children_of(master)
    os.kill(worker, signal.SIGSTOP)   # the one worker is "busy": nothing gets accepted
    try:
        with ThreadPoolExecutor(3) as pool:
            answers = [pool.submit(requests.get, url + "/healthz", timeout=30)
                       for _ in range(3)]
            assert eventually(ListenBacklog(port).waiting, 3) == 3
            os.kill(worker, signal.SIGCONT)
            assert [answer.result().status_code for answer in answers] == [200, 200, 200]
    finally:
        os.kill(worker, signal.SIGCONT)
    assert eventually(lambda: listen_backlog(port), 0) == 0


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_an_ipv6_listener_is_found_too():
    try:
        server = socket.socket(socket.AF_INET6)
        server.bind(("::1", 0))
    except OSError as problem:
        pytest.skip(f"no IPv6 loopback here: {problem}")
    server.listen(8)
    port = server.getsockname()[1]
    clients = [socket.create_connection(("::1", port)) for _ in range(2)]
    try:
        assert eventually(lambda: listen_backlog(port), 2) == 2
    finally:
        for client in clients:
            client.close()
        server.close()
