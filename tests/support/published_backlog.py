"""A storefront pod that publishes its listen backlog, and a clean board to read it from.

Shared by the pod agent's tests and the Kubernetes push's end-to-end test: `peakshop serve`
for real (gunicorn, the app, SQLite, a real redis-server) with PEAKSHOP_PUBLISH_BACKLOG=true
and HOSTNAME as Kubernetes sets it, one worker, so stopping it makes connections queue.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from urllib.parse import urlparse

import pytest

from common import pushed_backlog
from common.redis_url import client_from_url
from tests.support.live import LiveServer


@pytest.fixture
def board_client(redis_server):
    """A client of the suite's Redis with an empty backlog board, before and after."""
    client = client_from_url(redis_server.url, socket_timeout=5)
    client.delete(pushed_backlog.KEY)
    yield client
    client.delete(pushed_backlog.KEY)
    client.close()


def start_publishing_pod(sqlite_template, redis_url: str, tmp_path, pod: str) -> LiveServer:
    """One storefront pod named `pod` with one gunicorn worker, publishing its backlog."""
    database = tmp_path / "shop.sqlite3"
    shutil.copy(sqlite_template, database)
    return LiveServer.start(database_url=f"sqlite:///{database}", redis_url=redis_url,
                            instance_path=str(tmp_path / "live"), workers=1,
                            extra_env={"PEAKSHOP_PUBLISH_BACKLOG": "true", "HOSTNAME": pod})


OPS_TOKEN = "published-backlog-ops-token"


def start_two_worker_pod(sqlite_template, redis_url: str, tmp_path, pod: str) -> LiveServer:
    """One storefront pod named `pod` with two sync gunicorn workers (one request each),
    publishing its backlog and busy workers; slow requests may hold a worker two minutes."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    database = tmp_path / "shop.sqlite3"
    shutil.copy(sqlite_template, database)
    return LiveServer.start(database_url=f"sqlite:///{database}", redis_url=redis_url,
                            instance_path=str(tmp_path / "live"), workers=2,
                            extra_env={"PEAKSHOP_PUBLISH_BACKLOG": "true", "HOSTNAME": pod,
                                       "PEAKSHOP_OPS_TOKEN": OPS_TOKEN,
                                       "PEAKSHOP_WEB_TIMEOUT_S": "120"})


@contextlib.contextmanager
def slow_request(url: str):
    """A request whose body is still coming: the worker serving it stays busy inside the app
    (its in-flight gauge counts it) until the connection closes. The body announced is
    within the app's limit, so the worker waits for it rather than refusing it."""
    parsed = urlparse(url)
    connection = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
    try:
        connection.sendall(
            b"POST /api/v1/ops/breaches HTTP/1.1\r\nHost: shop\r\n"
            b"Authorization: Bearer " + OPS_TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
        yield connection
    finally:
        connection.close()
