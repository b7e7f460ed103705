"""Order-pipeline metrics: the queue and orders as the storefront reports them, and a worker's own.

The storefront's gauges are read at scrape time from Redis and the database, so every
gunicorn process reports the same live truth and nothing has to be shared between them.
Workers are separate processes: they add their confirmations to a counter in Redis (read
here as `peakshop_orders_confirmed_total`) and can serve their own figures on a port.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import redis
import sqlalchemy.exc
from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from common import order_stream
from shop.core.db import Database
from shop.core.metrics import scrape_time_collectors
from shop.orders import queue
from shop.orders.models import ORDER_STATUSES, Order

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Expose the order pipeline on the app's `/metrics` (idempotent across apps)."""
    if order_pipeline_collector not in scrape_time_collectors:
        scrape_time_collectors.append(order_pipeline_collector)


def order_pipeline_collector(app: Flask) -> OrderPipelineCollector:
    resources = app.extensions["peakshop"]
    return OrderPipelineCollector(resources.database, resources.redis)


class OrderPipelineCollector:
    """Queue depth and age, orders by status, and confirmations, read when scraped."""

    def __init__(self, database: Database, client: redis.Redis):
        self.database = database
        self.client = client

    def collect(self) -> Iterator[Metric]:
        yield from self._queue()
        yield from self._orders()

    def _queue(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("peakshop_queue_up",
                               "1 when the order queue (Redis) answered this scrape")
        try:
            depth = order_stream.queue_depth(self.client)
            confirmed = queue.confirmed_total(self.client)
        except redis.exceptions.RedisError as problem:
            log.warning("order queue unreadable for /metrics: %s", problem)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("peakshop_queue_length",
                                "Order messages not yet acknowledged (group lag + pending)",
                                value=depth.length)
        yield GaugeMetricFamily("peakshop_queue_pending",
                                "Order messages delivered to a worker and not yet acknowledged",
                                value=depth.pending)
        yield GaugeMetricFamily("peakshop_queue_oldest_age_seconds",
                                "Age of the oldest unacknowledged order message",
                                value=depth.oldest_age_s)
        yield CounterMetricFamily("peakshop_orders_confirmed",
                                  "Orders confirmed by all workers", value=confirmed)

    def _orders(self) -> Iterator[Metric]:
        try:
            with self.database.reading() as session:
                counts = dict(session.execute(select(Order.status, func.count())
                                              .group_by(Order.status)).all())
        except sqlalchemy.exc.SQLAlchemyError as problem:
            log.warning("order counts unreadable for /metrics: %s", problem)
            return
        orders = GaugeMetricFamily("peakshop_orders", "Orders by status", labels=["status"])
        for status in ORDER_STATUSES:
            orders.add_metric([status], counts.get(status, 0))
        yield orders


@dataclass
class WorkerStats:
    """What one worker process has done since it started (two threads update it)."""

    messages: int = 0
    confirmed: int = 0
    skipped: int = 0
    reclaimed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    batch_seconds: float = 0.0
    mails_sent: int = 0
    mails_failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **increments: float) -> None:
        with self._lock:
            for name, amount in increments.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self)
                    if not f.name.startswith("_")}


WORKER_COUNTERS = {
    "messages": "Queue messages this worker handled",
    "confirmed": "Orders this worker confirmed",
    "skipped": "Messages whose order needed nothing (already confirmed or not paid)",
    "reclaimed": "Messages taken over from a worker presumed dead",
    "dead_lettered": "Messages parked on the dead-letter stream",
    "batches": "Batches processed",
    "batch_seconds": "Seconds spent processing batches",
    "mails_sent": "Mails handed to the mail provider",
    "mails_failed": "Mail deliveries that failed and wait for a retry",
}


class WorkerCollector:
    """A worker's own counters, for its `--metrics-port`."""

    def __init__(self, stats: WorkerStats):
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        values = self.stats.snapshot()
        for name, documentation in WORKER_COUNTERS.items():
            yield CounterMetricFamily(f"peakshop_worker_{name}", documentation,
                                      value=values[name])
