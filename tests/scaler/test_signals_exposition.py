"""Storefront /metrics parsing and rates, against a real prometheus_client exposition over HTTP."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from scaler.signals.errors import SignalError
from scaler.signals.exposition import (
    ExpositionQueue,
    ExpositionScraper,
    ExpositionTraffic,
    Scrape,
    ScrapeWindow,
    counter_increase,
    histogram_quantile,
    parse_exposition,
)

INF = float("inf")


@pytest.mark.parametrize("quantile, buckets, expected", [
    # 90 requests under 25 ms, 10 between 250 and 500 ms: p95 is halfway into that bucket.
    (0.95, [(0.025, 90), (0.25, 90), (0.5, 100), (INF, 100)], 0.375),
    (0.5, [(0.1, 50), (0.2, 100), (INF, 100)], 0.1),
    (0.5, [(0.1, 0), (0.2, 100), (INF, 100)], 0.15),
    # Past the last finite bound, Prometheus answers that bound.
    (0.95, [(0.1, 10), (0.2, 20), (INF, 100)], 0.2),
    (0.95, [(0.1, 0), (INF, 0)], None),
    (0.95, [], None),
])
def test_histogram_quantile_matches_prometheus(quantile, buckets, expected):
    result = histogram_quantile(quantile, buckets)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize("old, new, increase", [
    (10, 25, 15),
    (25, 25, 0),
    (100, 7, 7),  # the process restarted and counted 7 since
])
def test_counter_increase_survives_resets(old, new, increase):
    assert counter_increase(old, new) == increase


def test_window_spans_oldest_to_newest_within_window():
    window = ScrapeWindow(window_s=30)
    for second, total in ((0, 0), (15, 150), (30, 300), (45, 600)):
        window.add(Scrape(at_s=second, requests_total=total, latency_buckets=()))
    reading = window.reading()
    # 15 s -> 45 s: the scrape at 0 s no longer helps to cover the last 30 s.
    assert reading.window_s == 30
    assert reading.request_rate == pytest.approx((600 - 150) / 30)


def test_not_the_shop_exposition_is_an_error():
    with pytest.raises(SignalError, match="peakshop_http_requests_total"):
        parse_exposition("# HELP other_total x\n# TYPE other_total counter\nother_total 1\n", 0)


class ManualClock:
    """A clock the test moves by hand, so a rate has an exact denominator."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def shop_registry():
    """The storefront's metric families on a registry served over real HTTP on loopback."""
    registry = CollectorRegistry()
    families = {
        "requests": Counter("peakshop_http_requests_total", "Requests",
                            ["method", "route", "status"], registry=registry),
        "latency": Histogram("peakshop_http_request_duration_seconds", "Latency",
                             ["method", "route"], registry=registry),
        "queue_length": Gauge("peakshop_queue_length", "Unacknowledged orders",
                              registry=registry),
        "queue_pending": Gauge("peakshop_queue_pending", "Delivered, unacked",
                               registry=registry),
        "queue_age": Gauge("peakshop_queue_oldest_age_seconds", "Oldest age",
                           registry=registry),
    }
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    families["url"] = f"http://127.0.0.1:{server.server_port}/metrics"
    yield families
    server.shutdown()
    server.server_close()


def test_rate_and_p95_from_two_scrapes_of_a_real_exposition(shop_registry):
    clock = ManualClock()
    traffic = ExpositionTraffic(ExpositionScraper(shop_registry["url"], clock=clock), 30)
    assert traffic.read() is None  # one scrape: no rate yet

    for _ in range(90):
        shop_registry["requests"].labels("GET", "/api/v1/shops/<slug>/products", "200").inc()
        shop_registry["latency"].labels("GET", "/api/v1/shops/<slug>/products").observe(0.02)
    for _ in range(10):
        shop_registry["requests"].labels("POST", "/api/v1/carts/<cart_id>/checkout",
                                         "201").inc()
        shop_registry["latency"].labels("POST", "/api/v1/carts/<cart_id>/checkout").observe(0.3)
    for _ in range(50):  # scrapes and probes are not shoppers
        shop_registry["requests"].labels("GET", "/metrics", "200").inc()
        shop_registry["latency"].labels("GET", "/metrics").observe(2.0)
    clock.now += 10

    reading = traffic.read()
    assert reading.request_rate == pytest.approx(100 / 10)
    assert reading.latency_p95_s == pytest.approx(0.375)


def test_idle_window_has_zero_rate_and_no_p95(shop_registry):
    clock = ManualClock()
    traffic = ExpositionTraffic(ExpositionScraper(shop_registry["url"], clock=clock), 30)
    shop_registry["requests"].labels("GET", "/", "200").inc(5)
    traffic.read()
    clock.now += 15
    reading = traffic.read()
    assert reading.request_rate == 0
    assert reading.latency_p95_s is None


def test_queue_gauges_from_the_exposition(shop_registry):
    shop_registry["queue_length"].set(7)
    shop_registry["queue_pending"].set(3)
    shop_registry["queue_age"].set(42.5)
    reading = ExpositionQueue(ExpositionScraper(shop_registry["url"])).read()
    # peakshop_queue_length is the whole unacknowledged backlog; pending is a part of it.
    assert (reading.backlog, reading.oldest_age_s) == (7, 42.5)


def test_endpoint_gone_is_a_signal_error_and_restarts_the_window(shop_registry):
    clock = ManualClock()
    scraper = ExpositionScraper(shop_registry["url"], timeout_s=2, clock=clock)
    traffic = ExpositionTraffic(scraper, 30)
    traffic.read()
    scraper.url = "http://127.0.0.1:9/metrics"  # nothing listens on the discard port
    with pytest.raises(SignalError, match="cannot scrape"):
        traffic.read()
    scraper.url = shop_registry["url"]
    clock.now += 5
    # The window was cleared: no rate spans the gap.
    assert traffic.read() is None


def test_two_scrapes_at_one_instant_do_not_make_a_rate():
    window = ScrapeWindow(window_s=30)
    window.add(Scrape(at_s=5, requests_total=10, latency_buckets=()))
    window.add(Scrape(at_s=5, requests_total=12, latency_buckets=()))
    assert window.reading() is None
    window.add(Scrape(at_s=7, requests_total=20, latency_buckets=()))
    assert window.reading().request_rate == pytest.approx(4)
