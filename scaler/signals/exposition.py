"""The storefront's own `/metrics`: scrape it, and turn counter deltas into rates and a p95.

Rates come from two scrapes `window_s` apart, the way Prometheus' `rate()` does it, so the
scaler needs no Prometheus server on a laptop. Parsing and arithmetic are pure functions;
only `ExpositionScraper.scrape()` does I/O.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from scaler.signals.errors import SignalError
from scaler.signals.readings import QueueReading, TrafficReading

REQUESTS_FAMILY = "peakshop_http_requests"  # the parser drops a counter's `_total`
LATENCY_FAMILY = "peakshop_http_request_duration_seconds"
IN_FLIGHT_FAMILY = "peakshop_http_requests_in_flight"
LISTEN_BACKLOG_FAMILY = "peakshop_http_listen_backlog"
# Behind the edge gate, the requests waiting for a worker wait at the gate instead.
GATE_WAITING_FAMILY = "peakshop_gate_requests_waiting"
QUEUE_LENGTH_FAMILY = "peakshop_queue_length"
QUEUE_PENDING_FAMILY = "peakshop_queue_pending"
QUEUE_AGE_FAMILY = "peakshop_queue_oldest_age_seconds"
ORDERS_CONFIRMED_FAMILY = "peakshop_orders_confirmed"

# Scrapes and probes are not shoppers: counting them would keep an idle shop "busy".
OPERATIONAL_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})


@dataclass(frozen=True)
class Scrape:
    """One parsed exposition, taken at `at_s` (monotonic seconds)."""

    at_s: float
    requests_total: float
    latency_buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), sorted
    in_flight: float | None = None
    listen_backlog: float | None = None
    queue_length: float | None = None
    queue_pending: float | None = None
    queue_oldest_age_s: float | None = None
    orders_confirmed_total: float | None = None


def parse_exposition(text: str, at_s: float,
                     ignored_routes: Iterable[str] = OPERATIONAL_ROUTES) -> Scrape:
    """Parse Prometheus text into a `Scrape`; raise SignalError when it is not the shop's."""
    ignored = frozenset(ignored_routes)
    requests_total = 0.0
    buckets: dict[float, float] = collections.defaultdict(float)
    gauges: dict[str, list[float]] = collections.defaultdict(list)
    seen_requests = False
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as error:
        raise SignalError(f"metrics endpoint returned text that is not Prometheus format: "
                          f"{error}") from None
    for family in families:
        # A labelled counter with no children yet has no samples: a fresh, idle shop.
        seen_requests = seen_requests or family.name == REQUESTS_FAMILY
        for sample in family.samples:
            route = sample.labels.get("route")
            if family.name == REQUESTS_FAMILY and sample.name.endswith("_total"):
                if route not in ignored:
                    requests_total += sample.value
            elif family.name == LATENCY_FAMILY and sample.name.endswith("_bucket"):
                if route not in ignored:
                    buckets[float(sample.labels["le"])] += sample.value
            elif family.name == ORDERS_CONFIRMED_FAMILY and sample.name.endswith("_total"):
                gauges[family.name].append(sample.value)
            elif family.name in (IN_FLIGHT_FAMILY, LISTEN_BACKLOG_FAMILY, QUEUE_LENGTH_FAMILY,
                                 QUEUE_PENDING_FAMILY, QUEUE_AGE_FAMILY, GATE_WAITING_FAMILY):
                gauges[family.name].append(sample.value)
    if not seen_requests:
        raise SignalError(f"metrics endpoint has no {REQUESTS_FAMILY}_total counter: "
                          "is the URL the storefront's /metrics?")

    def largest(name: str) -> float | None:
        # Under gunicorn every process may report the same queue reading: take one, not the sum.
        return max(gauges[name]) if gauges.get(name) else None

    return Scrape(
        at_s=at_s,
        requests_total=requests_total,
        latency_buckets=tuple(sorted(buckets.items())),
        in_flight=sum(gauges[IN_FLIGHT_FAMILY]) if gauges.get(IN_FLIGHT_FAMILY) else None,
        listen_backlog=_waiting_for_a_worker(largest(LISTEN_BACKLOG_FAMILY),
                                             gauges.get(GATE_WAITING_FAMILY)),
        queue_length=largest(QUEUE_LENGTH_FAMILY),
        queue_pending=largest(QUEUE_PENDING_FAMILY),
        queue_oldest_age_s=largest(QUEUE_AGE_FAMILY),
        orders_confirmed_total=(sum(gauges[ORDERS_CONFIRMED_FAMILY])
                                if gauges.get(ORDERS_CONFIRMED_FAMILY) else None),
    )


def counter_increase(old: float, new: float) -> float:
    """Increase of a counter between two readings; a drop means the process restarted."""
    return new - old if new >= old else new


def bucket_increases(old: tuple[tuple[float, float], ...],
                     new: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """Per-bound increase of cumulative histogram buckets between two scrapes."""
    before = dict(old)
    return [(bound, counter_increase(before.get(bound, 0.0), count)) for bound, count in new]


def histogram_quantile(quantile: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' `histogram_quantile` over cumulative (bound, count) pairs; None if empty."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                # Beyond the last finite bucket nothing is known but "more than that".
                return lower_bound
            in_bucket = count - lower_count
            if in_bucket <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / in_bucket
        lower_bound, lower_count = bound, count
    return lower_bound


def _waiting_for_a_worker(backlog: float | None, at_gate: list[float] | None) -> float | None:
    """The listen backlog plus the requests the edge gate holds (one sample per gate
    process, summed); None when neither is reported."""
    if not at_gate:
        return backlog
    return (backlog or 0.0) + sum(at_gate)


def traffic_between(old: Scrape, new: Scrape) -> TrafficReading:
    """Request rate and p95 between two scrapes of the same endpoint, and the requests
    waiting for a worker as of the newer one."""
    elapsed = new.at_s - old.at_s
    if elapsed <= 0:
        raise ValueError("scrapes must be in time order")
    served = counter_increase(old.requests_total, new.requests_total)
    p95 = histogram_quantile(0.95, bucket_increases(old.latency_buckets, new.latency_buckets))
    waiting = None if new.listen_backlog is None else int(new.listen_backlog)
    return TrafficReading(request_rate=served / elapsed, latency_p95_s=p95, window_s=elapsed,
                          waiting=waiting)


class ScrapeWindow:
    """The scrapes of the last `window_s` seconds; the rate spans the oldest to the newest."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._scrapes: collections.deque[Scrape] = collections.deque()

    def add(self, scrape: Scrape) -> None:
        """Keep `scrape`, dropping those that no longer help to cover the window."""
        if self._scrapes and scrape.at_s <= self._scrapes[-1].at_s:
            self._scrapes.pop()  # same instant: the newer reading replaces the older
        self._scrapes.append(scrape)
        # Keep exactly one scrape at or beyond the window's start, so the rate covers it whole.
        while len(self._scrapes) >= 2 and scrape.at_s - self._scrapes[1].at_s >= self.window_s:
            self._scrapes.popleft()

    def reading(self) -> TrafficReading | None:
        """Traffic over the window so far; None until two scrapes exist."""
        if len(self._scrapes) < 2:
            return None
        return traffic_between(self._scrapes[0], self._scrapes[-1])

    def clear(self) -> None:
        """Forget every scrape, e.g. after the endpoint was unreachable for a while."""
        self._scrapes.clear()


class ExpositionScraper:
    """Fetches and parses one `/metrics` URL; remembers the latest scrape for the queue gauges."""

    def __init__(self, url: str, timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 session: requests.Session | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.clock = clock
        self.session = session or requests.Session()
        self.latest: Scrape | None = None

    def scrape(self) -> Scrape:
        """GET the endpoint and parse it; SignalError when unreachable or not the shop's."""
        try:
            response = self.session.get(self.url, timeout=self.timeout_s)
            response.raise_for_status()
        except requests.RequestException as error:
            raise SignalError(f"cannot scrape {self.url}: {error}") from None
        self.latest = parse_exposition(response.text, self.clock())
        return self.latest


class ExpositionTraffic:
    """Request rate and p95 from successive scrapes of the storefront's `/metrics`."""

    name = "traffic"

    def __init__(self, scraper: ExpositionScraper, window_s: float = 30.0) -> None:
        self.scraper = scraper
        self.window = ScrapeWindow(window_s)

    def read(self) -> TrafficReading | None:
        """Scrape now; the reading over the window, None while only one scrape exists."""
        try:
            scrape = self.scraper.scrape()
        except SignalError:
            # A gap must not be averaged over: the next rate starts afresh.
            self.window.clear()
            raise
        self.window.add(scrape)
        return self.window.reading()


class ExpositionQueue:
    """The order queue as the storefront reports it, for when Redis is not reachable directly."""

    name = "queue"

    def __init__(self, scraper: ExpositionScraper, max_age_s: float = 5.0) -> None:
        self.scraper = scraper
        self.max_age_s = max_age_s

    def read(self) -> QueueReading:
        """Queue backlog and oldest age from the latest scrape (taking one if it is old)."""
        scrape = self.scraper.latest
        if scrape is None or self.scraper.clock() - scrape.at_s > self.max_age_s:
            scrape = self.scraper.scrape()
        if scrape.queue_length is None:
            raise SignalError(f"{self.scraper.url} has no peakshop_queue_length gauge")
        # The storefront's queue length already counts the delivered-but-unacked entries.
        return QueueReading(backlog=int(scrape.queue_length),
                            oldest_age_s=scrape.queue_oldest_age_s or 0.0,
                            entries_added=None)
