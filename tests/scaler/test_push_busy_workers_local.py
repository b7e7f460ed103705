"""The local scaler hears the storefront's busy workers: the accept queue from the socket
itself, the busy share from what gunicorn's master publishes to Redis.

Real parts: `peakshop serve` (gunicorn with two sync workers, the app, SQLite) with
PEAKSHOP_PUBLISH_BACKLOG=true, a real redis-server, and the scaler's own wiring
(`build_push` from the local settings). Two slow requests hold both workers inside the app;
nothing queues in the accept queue, yet the push is heard.
"""

from __future__ import annotations

import pytest

from common import pushed_backlog
from scaler.run_command import build_push
from scaler.settings import build_settings
from scaler.signals.push import SocketAndPublished
from scaler.signals.readings import ReplicaCounts
from tests.scaler.live_fixtures import wait_until
from tests.scaler.test_signals_push import SCRAPED
from tests.support import published_backlog

pytestmark = pytest.mark.slow

board_client = published_backlog.board_client


@pytest.fixture
def storefront(sqlite_template, redis_server, board_client, tmp_path):
    server = published_backlog.start_two_worker_pod(sqlite_template, redis_server.url,
                                                    tmp_path, "laptop")
    yield server
    server.stop()


class TwoWorkers:
    """The local actuator's replica counts: the storefront's two gunicorn workers."""

    def replicas(self) -> ReplicaCounts:
        return ReplicaCounts(2, 2, 1, 1)


def test_both_workers_busy_is_a_push_before_anything_queues(storefront, redis_server,
                                                             board_client):
    settings = build_settings({"target": "local", "metrics_url": storefront.url + "/metrics",
                               "redis_url": redis_server.url}, {})
    push = build_push(settings, TwoWorkers())
    assert isinstance(push.backlog, SocketAndPublished)
    wait_until(lambda: pushed_backlog.read(board_client).busy_share == 0, 30,
               what="the idle storefront publishing its busy workers")
    assert push.heard(SCRAPED) is None                  # idle: no push
    with (published_backlog.slow_request(storefront.url),
          published_backlog.slow_request(storefront.url)):
        # Both workers took their request (nothing queues) and the master said so...
        wait_until(lambda: pushed_backlog.read(board_client).busy_share == 1.0, 30,
                   what="both workers busy for a whole second, published")
        assert push.backlog.waiting() == 0
        # ...which the scaler hears as a push, from the busy workers alone.
        pushed = push.heard(SCRAPED)
        assert pushed is not None
    # 150 requests/s per local worker (a local "pod"): both busy imply 300/s (a queue that
    # grew would have said more), pushed at its lower bound: less the rule's margin, 1.5
    # deviations of a second's arrivals at the mark (0.92 x 0.8 x 300/s)
    assert settings.capacity.pod_max_rps == 150.0
    mark = 0.92 * 0.8 * 2 * 150.0
    assert pushed.pushed and pushed.request_rate == pytest.approx(
        2 * 150.0 - 1.5 * mark ** 0.5)


def test_without_redis_the_local_push_reads_the_socket_alone(storefront):
    settings = build_settings({"target": "local", "metrics_url": storefront.url + "/metrics"},
                              {})
    push = build_push(settings, TwoWorkers())
    assert not isinstance(push.backlog, SocketAndPublished)
    assert push.sample().busy_share is None and push.sample().waiting == 0
