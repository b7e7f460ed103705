"""This process's view of the server's load, cheap enough to consult on every request.

The listen backlog is read from /proc at most every `READ_EVERY_S` (a read costs up to a
few milliseconds on a busy host), the service time is a moving average of the requests this
process served, and the number of sibling workers is counted every few seconds (the scaler
adds and removes gunicorn workers while the shop runs).
"""

from __future__ import annotations

import os
import threading
import time

import psutil

from common.listen_queue import listen_backlog
from shop.waiting_room.decision import LoadLevel, LoadSignals, LoadThresholds, load_level

READ_EVERY_S = 0.5
COUNT_WORKERS_EVERY_S = 5.0
SERVICE_TIME_WEIGHT = 0.1   # of the newest request in the moving average (~10 requests)


class ProcessLoad:
    """Signals of one storefront process and the load level they add up to."""

    def __init__(self, port: int | None, threads: int, thresholds: LoadThresholds) -> None:
        self.port = port
        self.threads = max(1, threads)
        self.thresholds = thresholds
        self.service_time_s = 0.0
        self._lock = threading.Lock()
        self._level = LoadLevel.NORMAL
        self._signals = LoadSignals(0, 0.0, self.threads)
        self._read_at = -READ_EVERY_S
        self._workers = 1
        self._workers_at = -COUNT_WORKERS_EVERY_S

    def served(self, seconds: float) -> None:
        """A request took `seconds` of this process's time."""
        with self._lock:
            self.service_time_s += (seconds - self.service_time_s) * SERVICE_TIME_WEIGHT

    def level(self) -> LoadLevel:
        now = time.monotonic()
        if now - self._read_at >= READ_EVERY_S:
            self._read_at = now
            self._signals = LoadSignals(listen_backlog=self._backlog(),
                                        service_time_s=self.service_time_s,
                                        concurrency=self._worker_count(now) * self.threads)
            self._level = load_level(self._signals, self.thresholds)
        return self._level

    @property
    def signals(self) -> LoadSignals:
        return self._signals

    def _backlog(self) -> int:
        if self.port is None:
            return 0
        return listen_backlog(self.port) or 0

    def _worker_count(self, now: float) -> int:
        if now - self._workers_at >= COUNT_WORKERS_EVERY_S:
            self._workers_at = now
            try:
                # Under gunicorn the parent is the arbiter and its children the workers.
                self._workers = max(1, len(psutil.Process(os.getppid()).children()))
            except psutil.Error:
                self._workers = 1
        return self._workers
