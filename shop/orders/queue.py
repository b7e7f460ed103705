"""The order queue: a Redis Stream fed from the database outbox.

An order is first a row in `outbox`, written in the same transaction that marks it paid; the
relay copies rows to the stream and stamps them. If Redis is down at checkout the row simply
waits, and the next relay (from any web process or worker) delivers it. Delivery is
at-least-once: a crash between XADD and the stamp sends a message twice, and the worker's
effects are idempotent for exactly that reason.
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy import select, update

from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.orders.models import OutboxMessage

log = logging.getLogger(__name__)

STREAM = "peakshop:orders"
GROUP = "order-workers"
# Trimming keeps the stream bounded; acknowledged entries are not needed again.
STREAM_MAX_LENGTH = 100_000


def relay_outbox(database: Database, client: redis.Redis, limit: int = 500) -> int:
    """Copy up to `limit` unrelayed outbox rows to the stream; returns how many."""
    with database.transaction() as session:
        statement = (select(OutboxMessage).where(OutboxMessage.relayed_at.is_(None))
                     .order_by(OutboxMessage.id).limit(limit))
        if session.bind.dialect.name == "postgresql":
            # Concurrent relays take disjoint rows instead of queueing behind each other.
            statement = statement.with_for_update(skip_locked=True)
        messages = list(session.scalars(statement))
        if not messages:
            return 0
        with client.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.xadd(STREAM, {"topic": message.topic, "order_id": message.order_id,
                                   "outbox_id": message.id},
                          maxlen=STREAM_MAX_LENGTH, approximate=True)
            pipe.execute()
        session.execute(update(OutboxMessage)
                        .where(OutboxMessage.id.in_([m.id for m in messages]))
                        .values(relayed_at=utcnow()))
        return len(messages)


def relay_soon(database: Database, client: redis.Redis) -> None:
    """Relay now if Redis answers; otherwise leave the rows for the next relay."""
    try:
        relay_outbox(database, client)
    except redis.exceptions.RedisError as problem:
        log.warning("order queue unreachable, outbox keeps the order: %s", problem)
