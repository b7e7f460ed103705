"""What the live scaler learns, kept in Redis: the per-minute rates its forecast reads.

A restarted scaler, or a standby that takes over the leader Lease, loads the same history the
previous leader recorded, so yesterday's and last week's curves survive both. Previous seasons
are loaded once (`--history FILE`): a file already imported (same content) is not added again.

Layout, per season (`origin` = epoch seconds of minute 0): four hashes keyed by minute,
`peakshop:scaler:rates:{origin}:{request_sum|request_count|order_sum|order_count}`, added to
with HINCRBYFLOAT/HINCRBY (so two writers never lose each other's readings), and a set of the
imported files' SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import redis

from scaler.model import Observation
from scaler.rate_history import RateHistory, load_rate_history
from scaler.signals.errors import SignalError

log = logging.getLogger("peakshop.scaler.history")

COLUMNS = ("request_sum", "request_count", "order_sum", "order_count")


class HistoryStoreError(SignalError):
    """Redis could not be read or written; the message says where."""


class RedisRateStore:
    """The rate history of one season in Redis."""

    def __init__(self, client: redis.Redis, origin_s: float,
                 prefix: str = "peakshop:scaler:rates") -> None:
        self.client = client
        self.key = f"{prefix}:{int(origin_s)}"
        self.origin_s = origin_s

    def _hash(self, column: str) -> str:
        return f"{self.key}:{column}"

    def add(self, minute: int, request_rate: float | None, order_rate: float | None,
            weight: int = 1) -> None:
        """Add readings to a minute (a weight > 1 for a mean that stands for several)."""
        if minute < 0 or (request_rate is None and order_rate is None):
            return
        pipe = self.client.pipeline(transaction=False)
        if request_rate is not None:
            pipe.hincrbyfloat(self._hash("request_sum"), minute, request_rate * weight)
            pipe.hincrby(self._hash("request_count"), minute, weight)
        if order_rate is not None:
            pipe.hincrbyfloat(self._hash("order_sum"), minute, order_rate * weight)
            pipe.hincrby(self._hash("order_count"), minute, weight)
        try:
            pipe.execute()
        except redis.RedisError as error:
            raise HistoryStoreError(f"cannot write the rate history to Redis: {error}") from None

    def load(self) -> RateHistory:
        """The whole season's history as recorded so far."""
        try:
            pipe = self.client.pipeline(transaction=True)
            for column in COLUMNS:
                pipe.hgetall(self._hash(column))
            request_sum, request_count, order_sum, order_count = pipe.execute()
        except redis.RedisError as error:
            raise HistoryStoreError(f"cannot read the rate history from Redis: {error}") from None
        history = RateHistory(self.origin_s)
        minutes = sorted({int(m) for m in request_count} | {int(m) for m in order_count})
        for minute in minutes:
            key = str(minute).encode()
            history.add_totals(minute, float(request_sum.get(key, 0.0)),
                               int(request_count.get(key, 0)), float(order_sum.get(key, 0.0)),
                               int(order_count.get(key, 0)))
        return history

    def import_file(self, path: str | Path) -> bool:
        """Add a previous season's per-minute file once; False when it was imported before."""
        path = Path(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        previous = load_rate_history(path)   # HistoryFileError names a bad line
        try:
            if not self.client.sadd(f"{self.key}:imported", digest):
                return False
        except redis.RedisError as error:
            raise HistoryStoreError(f"cannot write the rate history to Redis: {error}") from None
        for minute in range(len(previous)):
            self.add(minute, previous.request_rate(minute), previous.order_rate(minute))
        return True


class StoredRateHistory(RateHistory):
    """A RateHistory that also files every reading in Redis (the in-memory copy serves the
    forecast; Redis outlives the process). While Redis cannot be read (down, or still
    loading its data after a restart) it goes on from memory and tries again each minute."""

    retry_s = 60.0

    def __init__(self, store: RedisRateStore) -> None:
        super().__init__(store.origin_s)
        self.store = store
        self.write_failures = 0
        self.loaded = False
        self._tried_at_s: float | None = None
        self.reload()

    def reload(self) -> None:
        """Replace what is in memory by what Redis holds (a restart, a new leader)."""
        try:
            loaded = self.store.load()
        except HistoryStoreError as error:
            log.warning("rate history: %s; going on from memory", error)
            return
        for name in ("_request_sums", "_request_counts", "_order_sums", "_order_counts",
                     "request_means", "order_means"):
            setattr(self, name, getattr(loaded, name))
        self.loaded = True

    def record(self, observation: Observation) -> None:
        if not self.loaded and (self._tried_at_s is None
                                or observation.at_s - self._tried_at_s >= self.retry_s):
            self._tried_at_s = observation.at_s
            self.reload()
        super().record(observation)
        measured_s = observation.at_s - observation.age_s - self.origin_s
        try:
            self.store.add(int(measured_s // 60), observation.request_rate,
                           observation.orders_rate)
        except HistoryStoreError:
            # The forecast goes on from memory; the reading is missing from Redis only.
            self.write_failures += 1
