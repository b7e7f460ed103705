"""The worker's main loop: take a batch from the stream, confirm it, acknowledge it.

A batch is acknowledged only after its transaction committed, so a worker that dies at any
point leaves its entries pending for another to reclaim; redelivered entries find their
orders confirmed already and change nothing (see `shop.orders.confirm`). The acknowledgement
travels with the next read (one round trip for both), and on its own before a reclaim and
when the worker stops.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
import sqlalchemy.exc

from common import order_stream
from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders.confirm import ConfirmResult, confirm_paid_orders
from shop.orders.heartbeat import Heartbeat
from shop.orders.links import OrderLinks
from shop.orders.metrics import WorkerStats
from shop.orders.service import ORDER_PAID_TOPIC
from shop.orders.worker_settings import WorkerSettings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 5.0
# Failures worth waiting out (connection lost, lock timeout, deadlock victim): the same
# batch succeeds once the database is back. Anything else is a problem with a message.
TRANSIENT_DATABASE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                             sqlalchemy.exc.DisconnectionError)


class Consumer:
    def __init__(self, database: Database, client: redis.Redis, settings: WorkerSettings,
                 stop: threading.Event, heartbeat: Heartbeat, stats: WorkerStats,
                 links: OrderLinks | None = None):
        self.database = database
        self.client = client
        self.settings = settings
        self.stop = stop
        self.heartbeat = heartbeat
        self.stats = stats
        self.links = links  # confirmation mails link to the order page
        self.reclaimer = queue.Reclaimer(settings.consumer, settings.claim_min_idle_ms)
        self._next_reclaim = 0.0
        # Entries of committed batches not yet acknowledged, and their confirmations.
        self._to_acknowledge: list[str] = []
        self._confirmed_unreported = 0

    def run(self) -> None:
        """Consume until `stop` is set; Redis and database outages are waited out."""
        self._until_redis_answers(lambda: queue.ensure_group(self.client))
        while not self.stop.is_set():
            self.heartbeat.beat()
            deliveries = self._until_redis_answers(self._next_batch)
            if deliveries:
                self.handle(deliveries)
        self.flush_acknowledgements()

    def _until_redis_answers(self, action):
        """`action()`, retried while Redis is unreachable; None if asked to stop meanwhile.

        Tried at least once even when stopping: the acknowledgement of a finished batch
        is part of finishing it.
        """
        delay = 0.25
        while True:
            try:
                return action()
            except redis.exceptions.RedisError as problem:
                log.warning("order queue unreachable, retrying in %.1f s: %s", delay, problem)
                if self._pause(delay):
                    return None
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _pause(self, seconds: float) -> bool:
        """Wait while still beating; True when asked to stop meanwhile."""
        self.heartbeat.beat(force=True)
        return self.stop.wait(seconds)

    def _next_batch(self) -> list[queue.Delivery]:
        """Entries a dead worker left pending first (checked every half idle time), else new."""
        if time.monotonic() >= self._next_reclaim:
            self._send_acknowledgements()
            claimed = self.reclaimer.reclaim(self.client, self.settings.batch_size)
            if self.reclaimer.scanned_everything:
                self._next_reclaim = (time.monotonic()
                                      + max(0.5, self.settings.claim_min_idle_ms / 2000))
            if claimed:
                log.info("reclaimed %d entries left pending by another worker", len(claimed))
                self.stats.add(reclaimed=len(claimed))
                return claimed
        deliveries = queue.read_new(self.client, self.settings.consumer,
                                    self.settings.batch_size, self.settings.block_ms,
                                    self._to_acknowledge, self._confirmed_unreported)
        self._to_acknowledge, self._confirmed_unreported = [], 0
        return deliveries

    def handle(self, deliveries: list[queue.Delivery]) -> None:
        """Confirm the batch's orders in one transaction, then acknowledge every entry (with
        the next read, or `flush_acknowledgements`)."""
        started = time.perf_counter()
        order_ids = []
        for delivery in deliveries:
            if delivery.topic == ORDER_PAID_TOPIC and delivery.order_id:
                order_ids.append(delivery.order_id)
            else:
                log.warning("ignoring queue entry %s: topic %r, order %r", delivery.entry_id,
                            delivery.topic, delivery.order_id)
        try:
            result = self._confirm(order_ids)
        except Exception:
            log.exception("a batch of %d failed; confirming its orders one by one",
                          len(deliveries))
            self._one_by_one(deliveries)
            return
        if result is None:
            return  # stopping while the database was down: the entries stay pending
        self._acknowledge([d.entry_id for d in deliveries], len(result.confirmed))
        # Skipped: redelivered, duplicated or foreign messages that changed nothing.
        self.stats.add(messages=len(deliveries), confirmed=len(result.confirmed),
                       skipped=len(deliveries) - len(result.confirmed), batches=1,
                       batch_seconds=time.perf_counter() - started)

    def _confirm(self, order_ids: list[str]) -> ConfirmResult | None:
        """One transaction for the batch, retried while the database is unreachable."""
        delay = 0.25
        while True:
            try:
                with self.database.transaction() as session:
                    return confirm_paid_orders(session, order_ids, utcnow(), self.links)
            except TRANSIENT_DATABASE_ERRORS as problem:
                log.warning("database unavailable, retrying the batch in %.1f s: %s",
                            delay, problem)
                if self._pause(delay):
                    return None
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _one_by_one(self, deliveries: list[queue.Delivery]) -> None:
        done, confirmed = [], 0
        for delivery in deliveries:
            try:
                result = self._confirm([delivery.order_id] if delivery.order_id else [])
            except Exception as problem:
                log.exception("order %s could not be confirmed", delivery.order_id)
                self._give_up_if_hopeless(delivery, problem)
                continue
            if result is None:
                break
            done.append(delivery.entry_id)
            confirmed += len(result.confirmed)
        self._acknowledge(done, confirmed)
        self.stats.add(messages=len(done), confirmed=confirmed, skipped=len(done) - confirmed)

    def _give_up_if_hopeless(self, delivery: queue.Delivery, problem: Exception) -> None:
        """Park a message once it failed `max_deliveries` times; before that, let it be
        redelivered (reclaimed after the idle time) in case the cause was passing."""
        try:
            if queue.times_delivered(self.client, delivery.entry_id) >= \
                    self.settings.max_deliveries:
                queue.dead_letter(self.client, delivery, f"{type(problem).__name__}: {problem}")
                self.stats.add(dead_lettered=1)
                log.error("order %s moved to %s after %d deliveries", delivery.order_id,
                          order_stream.DEAD_LETTER_STREAM, self.settings.max_deliveries)
        except redis.exceptions.RedisError as redis_problem:
            log.warning("cannot dead-letter %s now: %s", delivery.entry_id, redis_problem)

    def _acknowledge(self, entry_ids: list[str], confirmed: int) -> None:
        self._to_acknowledge.extend(entry_ids)
        self._confirmed_unreported += confirmed

    def flush_acknowledgements(self) -> None:
        """Send what is left to acknowledge now (tried at least once even when stopping)."""
        # If Redis is gone now, the entries stay pending: once reclaimed they find their
        # orders confirmed and are simply acknowledged then.
        self._until_redis_answers(self._send_acknowledgements)

    def _send_acknowledgements(self) -> None:
        queue.acknowledge(self.client, self._to_acknowledge, self._confirmed_unreported)
        self._to_acknowledge, self._confirmed_unreported = [], 0
