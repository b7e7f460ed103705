"""The worker's periodic chores, on a thread of their own so a slow mail server never holds up
order confirmations: relay the outbox, send due mail, expire unpaid reservations, and
re-queue paid orders the queue has lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import redis
from sqlalchemy import exists, select

from common import order_stream
from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.orders import queue
from shop.orders.models import Order, OutboxMessage
from shop.orders.service import ORDER_PAID_TOPIC, expire_reservations

log = logging.getLogger(__name__)

BATCH_LIMIT = 500
# After a wipe, orders paid this long ago are surely past the relay; younger ones may still
# be on their way to the stream (a duplicate would be harmless, but needless).
REQUEUE_AFTER_WIPE_S = 30.0


def relay_all(database: Database, client: redis.Redis) -> int:
    """Relay every unrelayed outbox row, page by page."""
    total = 0
    while True:
        relayed = queue.relay_outbox(database, client, limit=BATCH_LIMIT)
        total += relayed
        if relayed < BATCH_LIMIT:
            return total


def expire_all(database: Database) -> int:
    """Cancel every unpaid order whose reservation has run out, returning its stock."""
    total = 0
    while True:
        # Look before locking: on SQLite a write transaction blocks every other writer.
        with database.reading() as session:
            if session.scalar(select(Order.id).where(
                    Order.status == "pending_payment",
                    Order.reservation_expires_at < utcnow()).limit(1)) is None:
                return total
        with database.transaction() as session:
            cancelled = len(expire_reservations(session, limit=BATCH_LIMIT))
        total += cancelled
        if cancelled < BATCH_LIMIT:
            return total


def requeue_orphans(database: Database, client: redis.Redis, older_than_s: float) -> int:
    """Queue again the orders paid long ago that the queue no longer holds.

    That happens when Redis lost data (a crash within its fsync window, a flush) or trimmed
    entries nobody had read. Everything older than the oldest unacknowledged entry has been
    acknowledged, and an acknowledged order is confirmed; so an order paid before that, by
    more than `older_than_s` (a margin for clock skew and relay delay), and still paid, is
    lost. A duplicate would be harmless anyway: the confirmation is idempotent. Orders on the
    dead-letter stream were given up on purpose and stay there.
    """
    if queue.redis_was_wiped(client):
        # Everything the stream held is gone at once: no reason to wait the full margin.
        log.warning("the order queue's data is gone (Redis restarted empty or flushed): "
                    "re-queueing paid orders older than %.0f s", REQUEUE_AFTER_WIPE_S)
        older_than_s = min(older_than_s, REQUEUE_AFTER_WIPE_S)
    depth = order_stream.queue_depth(client)
    cutoff = utcnow() - timedelta(seconds=older_than_s + depth.oldest_age_s)
    waiting_in_outbox = exists().where(OutboxMessage.order_id == Order.id,
                                       OutboxMessage.relayed_at.is_(None))
    statement = (select(Order.id)
                 .where(Order.status == "paid", Order.paid_at < cutoff, ~waiting_in_outbox)
                 .limit(BATCH_LIMIT))
    given_up = queue.dead_lettered_orders(client)
    if given_up:
        statement = statement.where(Order.id.not_in(given_up))
    with database.reading() as session:
        orphans = list(session.scalars(statement))
    if not orphans:
        return 0
    with database.transaction() as session:
        for order_id in orphans:
            session.add(OutboxMessage(topic=ORDER_PAID_TOPIC, order_id=order_id,
                                      payload={"requeued": True}))
    log.warning("re-queued %d paid orders missing from the order queue", len(orphans))
    relay_all(database, client)
    return len(orphans)


@dataclass
class Chore:
    name: str
    interval_s: float
    run: Callable[[], object]
    due_at: float = 0.0
    failing: bool = False


class Housekeeping(threading.Thread):
    """Runs each chore every `interval_s` until `stop` is set; a failing chore is retried."""

    def __init__(self, chores: list[Chore], stop: threading.Event):
        super().__init__(name="housekeeping", daemon=True)
        self.chores = chores
        self.stop = stop

    def run(self) -> None:
        while not self.stop.is_set():
            for chore in self.chores:
                if self.stop.is_set():
                    return
                if time.monotonic() >= chore.due_at:
                    self._run(chore)
                    chore.due_at = time.monotonic() + chore.interval_s
            next_due = min(chore.due_at for chore in self.chores)
            self.stop.wait(max(0.05, next_due - time.monotonic()))

    @staticmethod
    def _run(chore: Chore) -> None:
        try:
            chore.run()
        except Exception as problem:  # Redis or the database down: try again next round
            if not chore.failing:
                log.warning("%s failed, retrying every %.0f s: %s", chore.name,
                            chore.interval_s, problem)
            chore.failing = True
        else:
            if chore.failing:
                log.info("%s works again", chore.name)
            chore.failing = False
