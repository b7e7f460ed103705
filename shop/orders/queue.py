"""The order queue: a Redis Stream fed from the database outbox, read by a consumer group.

An order is first a row in `outbox`, written in the same transaction that marks it paid; the
relay copies rows to the stream and stamps them. If Redis is down at checkout the row simply
waits, and the next relay (from any web process or worker) delivers it. Delivery is
at-least-once: a crash between XADD and the stamp sends a message twice, a worker that dies
before XACK leaves its entries pending until another reclaims them (XAUTOCLAIM), and the
worker's effects are idempotent for exactly those reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis
from sqlalchemy import select, update

from common.order_stream import (
    CONFIRMED_COUNTER,
    DATA_MARKER,
    DEAD_LETTER_STREAM,
    GROUP,
    STREAM,
    STREAM_MAX_LENGTH,
)
from common.order_stream import text as _text
from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.orders.models import OutboxMessage

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Delivery:
    """One stream entry handed to this consumer."""

    entry_id: str
    topic: str
    order_id: str


# --- producing -----------------------------------------------------------------------------

def relay_outbox(database: Database, client: redis.Redis, limit: int = 500) -> int:
    """Copy up to `limit` unrelayed outbox rows to the stream; returns how many."""
    if database.url.startswith("sqlite"):
        return _relay_outside_write_lock(database, client, limit)
    with database.transaction() as session:
        # Concurrent relays take disjoint rows instead of queueing behind each other.
        messages = list(session.scalars(_unrelayed(limit).with_for_update(skip_locked=True)))
        if not messages:
            return 0
        _append(client, messages)
        _stamp(session, [message.id for message in messages])
        return len(messages)


def _relay_outside_write_lock(database: Database, client: redis.Redis, limit: int) -> int:
    # SQLite has one writer: holding its lock while Redis is slow would stall every checkout.
    # Two relays may then both send a row; the worker's effects are idempotent for that.
    with database.reading() as session:
        messages = list(session.scalars(_unrelayed(limit)))
    if not messages:
        return 0
    _append(client, messages)
    with database.transaction() as session:
        _stamp(session, [message.id for message in messages])
    return len(messages)


def _unrelayed(limit: int):
    return (select(OutboxMessage).where(OutboxMessage.relayed_at.is_(None))
            .order_by(OutboxMessage.id).limit(limit))


def _append(client: redis.Redis, messages: list[OutboxMessage]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for message in messages:
            append(pipe, message.topic, message.order_id, message.id)
        pipe.execute()


def append(client: redis.Redis, topic: str, order_id: str, outbox_id: int) -> None:
    """XADD one outbox row's message (on a pipeline, to share its round trip)."""
    client.execute_command(*append_command(topic, order_id, outbox_id))


def append_command(topic: str, order_id: str, outbox_id: int) -> tuple:
    """`append`'s XADD as the command's words, to be sent with others in one round trip."""
    return ("XADD", STREAM, "MAXLEN", "~", STREAM_MAX_LENGTH, "*",
            "topic", topic, "order_id", order_id, "outbox_id", outbox_id)


def unstamp(database: Database, outbox_ids: list[int]) -> None:
    """Hand rows written as relayed (`orders.service.mark_paid(sent_by_caller=True)`) whose
    XADD failed back to the relay."""
    with database.transaction() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids))
                        .values(relayed_at=None))


def _stamp(session, ids: list[int]) -> None:
    session.execute(update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.relayed_at.is_(None))
                    .values(relayed_at=utcnow()))


def relay_soon(database: Database, client: redis.Redis) -> None:
    """Relay now if Redis answers; otherwise leave the rows for the next relay."""
    try:
        relay_outbox(database, client)
    except redis.exceptions.RedisError as problem:
        log.warning("order queue unreachable, outbox keeps the order: %s", problem)


# --- consuming -----------------------------------------------------------------------------

def redis_was_wiped(client: redis.Redis) -> bool:
    """True once after Redis lost its data (a flush, a restart without persistence) — and
    on the very first call ever, which is treated alike (a sweep with nothing to find)."""
    return bool(client.set(DATA_MARKER, "1", nx=True))


def ensure_group(client: redis.Redis) -> None:
    """Create the consumer group (and the stream) unless both exist."""
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.exceptions.ResponseError as problem:
        if "BUSYGROUP" not in str(problem):
            raise


def _deliveries(entries: Iterable) -> list[Delivery]:
    deliveries = []
    for entry in entries or ():
        if not entry or entry[0] is None:
            continue  # an entry deleted while pending (Redis 6 reports it as nil)
        entry_id, fields = entry[0], entry[1] or {}
        topic, order_id = fields.get(b"topic"), fields.get(b"order_id")
        # Bytes from this module's own client: decoded straight, not through `_text`'s
        # checks, as this runs for every entry of every batch.
        deliveries.append(Delivery(
            entry_id.decode() if type(entry_id) is bytes else _text(entry_id),
            topic.decode() if type(topic) is bytes else _text(topic),
            order_id.decode() if type(order_id) is bytes else _text(order_id)))
    return deliveries


def read_new(client: redis.Redis, consumer: str, count: int, block_ms: int,
             acknowledging: Sequence[str] = (), confirmed: int = 0) -> list[Delivery]:
    """Up to `count` entries never delivered to the group, waiting up to `block_ms` for one.

    With `acknowledging`, those entries are acknowledged first (and `confirmed` counted, as
    `acknowledge` does) in the same round trip: a worker's XACK rides with its next read.
    """
    try:
        if acknowledging:
            with client.pipeline(transaction=False) as pipe:
                _acknowledge_on(pipe, acknowledging, confirmed)
                pipe.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms)
                response = pipe.execute()[-1]
        else:
            response = client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count,
                                         block=block_ms)
    except redis.exceptions.ResponseError as problem:
        if "NOGROUP" not in str(problem):
            raise
        # The stream vanished (a flushed or replaced Redis): start over; orders left paid
        # are re-queued from the database by the orphan sweep.
        ensure_group(client)
        return []
    if isinstance(response, dict):  # RESP3
        return _deliveries(response.get(STREAM.encode(), [[]])[0])
    return _deliveries(response[0][1]) if response else []


@dataclass
class Reclaimer:
    """Walks the group's pending list with XAUTOCLAIM, remembering where it stopped."""

    consumer: str
    min_idle_ms: int
    cursor: str = "0-0"

    def reclaim(self, client: redis.Redis, count: int) -> list[Delivery]:
        """Take over up to `count` entries idle for at least `min_idle_ms` (a dead consumer's)."""
        try:
            response = client.xautoclaim(STREAM, GROUP, self.consumer, self.min_idle_ms,
                                         start_id=self.cursor, count=count)
        except redis.exceptions.ResponseError as problem:
            if "NOGROUP" not in str(problem):
                raise
            ensure_group(client)
            self.cursor = "0-0"
            return []
        self.cursor = _text(response[0])
        claimed = _deliveries(response[1])
        if len(response) > 2 and response[2]:
            # Redis 7 drops entries trimmed from the stream from the pending list itself.
            log.warning("%d pending entries had been trimmed from the stream", len(response[2]))
        return claimed

    @property
    def scanned_everything(self) -> bool:
        return self.cursor == "0-0"


def acknowledge(client: redis.Redis, entry_ids: list[str], confirmed: int = 0) -> None:
    """XACK the entries and count the confirmations, in one round trip."""
    if not entry_ids:
        return
    with client.pipeline(transaction=False) as pipe:
        _acknowledge_on(pipe, entry_ids, confirmed)
        pipe.execute()


def _acknowledge_on(pipe, entry_ids: Sequence[str], confirmed: int) -> None:
    pipe.xack(STREAM, GROUP, *entry_ids)
    if confirmed:
        pipe.incrby(CONFIRMED_COUNTER, confirmed)


def times_delivered(client: redis.Redis, entry_id: str) -> int:
    """How often the group has handed out this entry (0 when it is no longer pending)."""
    rows = client.xpending_range(STREAM, GROUP, min=entry_id, max=entry_id, count=1)
    return int(rows[0]["times_delivered"]) if rows else 0


def dead_letter(client: redis.Redis, delivery: Delivery, reason: str) -> None:
    """Park a message that keeps failing on the dead-letter stream and acknowledge it."""
    with client.pipeline(transaction=True) as pipe:
        pipe.xadd(DEAD_LETTER_STREAM, {"entry_id": delivery.entry_id, "topic": delivery.topic,
                                       "order_id": delivery.order_id, "reason": reason[:500]},
                  maxlen=STREAM_MAX_LENGTH, approximate=True)
        pipe.xack(STREAM, GROUP, delivery.entry_id)
        pipe.execute()


def dead_lettered_orders(client: redis.Redis, limit: int = 10_000) -> set[str]:
    """Ids of the orders whose messages were parked on the dead-letter stream."""
    return {_text(fields.get(b"order_id")) for _, fields in
            client.xrange(DEAD_LETTER_STREAM, count=limit)} - {""}


def confirmed_total(client: redis.Redis) -> int:
    """Orders confirmed by all workers since the counter began (it lives in Redis)."""
    return int(client.get(CONFIRMED_COUNTER) or 0)
