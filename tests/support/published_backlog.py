"""A storefront pod that publishes its listen backlog, and a clean board to read it from.

Shared by the pod agent's tests and the Kubernetes push's end-to-end test: `peakshop serve`
for real (gunicorn, the app, SQLite, a real redis-server) with PEAKSHOP_PUBLISH_BACKLOG=true
and HOSTNAME as Kubernetes sets it, one worker, so stopping it makes connections queue.
"""

from __future__ import annotations

import shutil

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
