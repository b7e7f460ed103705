"""Requests counted per component in Redis, read back per window.

A request's count reaches Redis within about a second (shop.status.slo_batch): added up in
its process, written by a flusher thread every second and when the process exits.
"""

import time

import pytest

from shop.status import slo_batch, slo_counter
from shop.status.burnrate import Window
from shop.status.components import Component
from shop.status.traffic import component_of

T0 = 1_800_000_000.0  # a fixed clock: bucket arithmetic, not wall time, is under test


@pytest.mark.parametrize("rule, component", [
    ("/api/v1/carts/<cart_id>/checkout", Component.CHECKOUT),
    ("/shops/<slug>/checkout", Component.CHECKOUT),
    ("/api/v1/payments/stripe/webhook", Component.PAYMENTS),
    ("/api/v1/orders/<order_id>", Component.ORDER_PROCESSING),
    ("/orders/<order_id>", Component.ORDER_PROCESSING),
    ("/api/v1/shops/<slug>/products", Component.STOREFRONT),
    ("/shops/<slug>/", Component.STOREFRONT),
    ("/healthz", None), ("/readyz", None), ("/metrics", None),
    ("/status", None), ("/api/v1/status", None), ("/shops/<slug>/status", None),
    ("/api/v1/ops/incidents", None), ("/static/<path:filename>", None), (None, None),
])
def test_routes_map_to_components(rule, component):
    assert component_of(rule) == component


def test_windows_add_up_the_right_buckets(redis_client):
    slo_counter.record(redis_client, "checkout", good=5, bad=0, now=T0 - 3 * 3600)
    slo_counter.record(redis_client, "checkout", good=10, bad=2, now=T0 - 1200)
    slo_counter.record(redis_client, "checkout", good=7, bad=3, now=T0 - 30)
    slo_counter.record(redis_client, "payments", good=0, bad=50, now=T0)
    counts = slo_counter.window_counts(redis_client, "checkout", [300, 1800, 3600, 21600],
                                       now=T0)
    assert counts == {300: Window(7, 3), 1800: Window(17, 5), 3600: Window(17, 5),
                      21600: Window(22, 5)}
    assert 0 < redis_client.ttl(slo_counter.bucket_key("checkout", int((T0 - 30) // 60))) \
        <= slo_counter.RETENTION_S


def counts_once_settled(redis_client, component: str, expected: Window,
                        deadline_s: float = slo_batch.FLUSH_INTERVAL_S + 9) -> Window:
    """The component's 5-minute counts once they reach `expected` (the process's flusher
    writes them within about a second; the deadline is slack for a loaded machine, not
    the promise), or when the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        counts = slo_counter.window_counts(redis_client, component, [300])[300]
        if counts == expected or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def test_requests_are_counted_good_and_bad(client, shop, redis_client, make_app):
    """Counted in the process, written to Redis by the flusher without any further request,
    and never twice: a flush of everything pending afterwards adds nothing."""
    from tests.support.servers import free_port

    client.get(f"/api/v1/shops/{shop.slug}/products")
    client.get("/api/v1/shops/no-such-shop/products")  # a 404 is the caller's, not ours
    client.get("/healthz")
    broken = make_app(database_url=f"postgresql+psycopg://x@127.0.0.1:{free_port()}/gone")
    assert broken.test_client().get(f"/api/v1/shops/{shop.slug}/products").status_code == 503
    # Sign-up (the `shop` fixture), two product lists, one failure.
    expected = Window(good=3, bad=1)
    assert counts_once_settled(redis_client, "storefront", expected) == expected
    slo_batch.flush_all()
    assert slo_counter.window_counts(redis_client, "storefront", [300])[300] == expected


COUNT_AND_FORK = """
import os, sys
import redis
from shop.status.slo_batch import SloBatch

batch = SloBatch(redis.Redis.from_url(sys.argv[1]))
batch.add("checkout", good=3, bad=0, now=float(sys.argv[2]))
child = os.fork()
if child == 0:
    # A gunicorn worker: forked with the parent's pending counts, adds its own, exits
    # normally (sys.exit, as gunicorn's workers do) before any flush could run.
    batch.add("checkout", good=0, bad=2, now=float(sys.argv[2]))
    sys.exit(0)
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_counts_survive_a_normal_exit_and_a_fork_counts_nothing_twice(redis_server,
                                                                       redis_client):
    """Both processes exit within the flush interval, so only their exit writes the counts:
    the parent's 3 once (not again by the child that inherited them), the child's 2."""
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", COUNT_AND_FORK, redis_server.url,
                               str(T0)], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    counts = slo_counter.window_counts(redis_client, "checkout", [300], now=T0)
    assert counts[300] == Window(good=3, bad=2)


def test_a_stopped_storefront_has_written_every_count(redis_server, redis_client,
                                                       sqlite_template, tmp_path):
    """Under gunicorn (2 workers, a preloaded app), after a graceful stop, Redis holds
    exactly one count per request answered."""
    import shutil

    import requests

    from tests.support.live import LiveServer

    database = tmp_path / "peakshop.sqlite3"
    shutil.copy(sqlite_template, database)
    server = LiveServer.start(database_url=f"sqlite:///{database}",
                              redis_url=redis_server.url, instance_path=str(tmp_path / "live"))
    try:
        with requests.Session() as session:
            for _ in range(40):
                assert session.get(f"{server.url}/api/v1/shops/none/products").status_code \
                    == 404
    finally:
        assert server.stop() == 0
    assert slo_counter.window_counts(redis_client, "storefront", [300])[300] == Window(40, 0)


def test_counting_never_fails_a_request_when_redis_is_down(make_app):
    from tests.support.servers import free_port

    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert app.test_client().get("/api/v1/shops/any/products").status_code == 404
