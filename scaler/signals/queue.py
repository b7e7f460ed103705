"""The order queue read straight from Redis: backlog and age of the oldest unacknowledged order.

The depth is computed by the order queue's own `queue_depth` (group lag plus pending, the
oldest entry's id against the Redis server's clock), so the scaler and the storefront's
`peakshop_queue_length` gauge can never disagree about what "waiting" means. The scaler adds
the stream's lifetime XADD count, from which it derives the orders' arrival rate.
"""

from __future__ import annotations

import redis

from common.order_stream import GROUP as ORDER_WORKERS_GROUP
from common.order_stream import STREAM as ORDERS_STREAM
from common.order_stream import queue_depth
from scaler.signals.errors import SignalError
from scaler.signals.readings import QueueReading

__all__ = ["ORDERS_STREAM", "ORDER_WORKERS_GROUP", "RedisStreamQueue"]


class RedisStreamQueue:
    """Reads the order stream's backlog, oldest age and arrivals so far."""

    name = "queue"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def read(self) -> QueueReading:
        """The queue as of now; SignalError when Redis cannot be asked."""
        try:
            depth = queue_depth(self.client)
            entries_added = self._entries_added()
        except redis.RedisError as error:
            raise SignalError(f"cannot read stream {ORDERS_STREAM!r} from Redis: {error}") \
                from None
        return QueueReading(backlog=depth.length, oldest_age_s=depth.oldest_age_s,
                            entries_added=entries_added)

    def _entries_added(self) -> int | None:
        if not self.client.exists(ORDERS_STREAM):
            return 0
        # Redis 7+ only; before that the arrival rate is simply not known.
        added = self.client.xinfo_stream(ORDERS_STREAM).get("entries-added")
        return int(added) if added is not None else None
