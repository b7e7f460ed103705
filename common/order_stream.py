"""The order stream's layout and depth: what the storefront, its workers and the scaler share.

Pure Redis, no database: the scaler and the load tests read the queue through this module
without importing the storefront's models.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

# One hash tag for every key of the order queue: on a Redis Cluster they share a slot, so a
# dead-lettering MULTI (XADD to one stream, XACK on the other) stays on one master.
STREAM = "peakshop:{orders}"
GROUP = "order-workers"
# Poison messages end up here, with the reason, instead of blocking the group forever.
DEAD_LETTER_STREAM = "peakshop:{orders}:dead"
# Confirmations across every worker: the storefront exposes it as a Prometheus counter.
CONFIRMED_COUNTER = "peakshop:{orders}:confirmed_total"
# Trimming keeps the stream bounded; acknowledged entries are not needed again. Entries
# trimmed before delivery are not lost: the worker re-queues orders left paid (see
# `shop.orders.housekeeping.requeue_orphans`).
STREAM_MAX_LENGTH = 100_000
# A key that lives as long as Redis's data: when it is missing, Redis lost everything.
DATA_MARKER = "peakshop:{orders}:data-marker"
# Redis before 7.0 reports no group lag: undelivered entries are then counted page by page.
UNDELIVERED_COUNT_CAP = 100_000
_PAGE = 1_000


@dataclass(frozen=True)
class QueueDepth:
    """What the consumer group has not acknowledged yet, and how old the oldest of it is."""

    length: int  # never delivered (lag) + delivered and not acknowledged (pending)
    pending: int
    oldest_age_s: float


def text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def stream_id_ms(entry_id: bytes | str) -> int:
    """Milliseconds since the epoch encoded in a stream id such as '1700000000000-3'."""
    return int(text(entry_id).split("-", 1)[0])


def queue_depth(client: redis.Redis) -> QueueDepth:
    """Unacknowledged entries and the age of the oldest, against the Redis server's clock."""
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    if not client.exists(STREAM):
        return QueueDepth(0, 0, 0.0)
    group = next((info for info in client.xinfo_groups(STREAM)
                  if text(info["name"]) == GROUP), None)
    if group is None:
        # No worker has joined yet: everything in the stream waits.
        first = client.xrange(STREAM, count=1)
        oldest = [stream_id_ms(first[0][0])] if first else []
        return _depth(client.xlen(STREAM), 0, oldest, now_ms)
    pending = int(group["pending"])
    last_delivered = text(group["last-delivered-id"])
    lag = group.get("lag")
    undelivered = int(lag) if lag is not None else _count_after(client, last_delivered)
    oldest = []
    if pending:
        summary = client.xpending(STREAM, GROUP)
        if summary.get("min"):
            oldest.append(stream_id_ms(summary["min"]))
    if undelivered:
        waiting = client.xrange(STREAM, min=f"({last_delivered}", count=1)
        if waiting:
            oldest.append(stream_id_ms(waiting[0][0]))
    return _depth(pending + undelivered, pending, oldest, now_ms)


def _depth(length: int, pending: int, oldest_ms: list[int], now_ms: int) -> QueueDepth:
    age_s = max(0.0, (now_ms - min(oldest_ms)) / 1000.0) if oldest_ms else 0.0
    return QueueDepth(length, pending, age_s)


def _count_after(client: redis.Redis, last_delivered: str) -> int:
    counted, start = 0, f"({last_delivered}"
    while counted < UNDELIVERED_COUNT_CAP:
        page = client.xrange(STREAM, min=start, count=_PAGE)
        counted += len(page)
        if len(page) < _PAGE:
            break
        start = f"({text(page[-1][0])}"
    return min(counted, UNDELIVERED_COUNT_CAP)
