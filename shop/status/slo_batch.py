"""SLO counts added up in each process and written to Redis at most once a second.

Counting every request with its own Redis round trip cost as much as a small page; a peak
answers thousands of requests a second per process, and the burn rate reads one-minute
buckets. So a process adds its counts up in memory, per component and bucket, and one
thread writes them every FLUSH_INTERVAL_S in a single pipelined round trip, plus once
when the process exits normally (gunicorn's workers exit through `sys.exit`, which runs
`atexit`). What the promise is: a request's count is in Redis within about a second.

No count is written twice: a flush takes the pending counts out under a lock before it
sends them, and a forked child starts with none (the parent's belong to the parent). A
flush that fails drops its counts with a warning rather than retry a write that may have
landed; a process killed outright (SIGKILL) loses at most its last second of counts.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref

import redis

from shop.status import slo_counter

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0

# (component, bucket) -> [good, bad]
Pending = dict[tuple[str, int], list[int]]


class SloBatch:
    """The counts of one Redis client (one app) in this process, waiting for the flush."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._pending: Pending = collections.defaultdict(lambda: [0, 0])
        _batches.add(self)

    def add(self, component: str, good: int, bad: int, now: float | None = None) -> None:
        """Count events in the current bucket; no I/O."""
        moment = time.time() if now is None else now
        bucket = int(moment // slo_counter.BUCKET_S)
        with self._lock:
            counts = self._pending[(component, bucket)]
            counts[0] += good
            counts[1] += bad
        _flusher.ensure_running()

    def take(self) -> Pending:
        """Everything pending, removed: whoever takes it is the only one to write it."""
        with self._lock:
            taken, self._pending = self._pending, collections.defaultdict(lambda: [0, 0])
        return taken

    def flush(self) -> None:
        """Write the pending counts in one round trip; a Redis failure drops them, logged."""
        taken = self.take()
        if not taken:
            return
        try:
            slo_counter.add_counts(self.client, taken)
        # A cluster client that lost (or closed) its nodes raises RedisClusterException,
        # which redis-py does not derive from RedisError.
        except (redis.RedisError, redis.exceptions.RedisClusterException) as problem:
            log.warning("SLO counts of %d buckets dropped, Redis refused them: %s",
                        len(taken), problem)

    def forget_inherited(self) -> None:
        """In a forked child: the counts copied from the parent are the parent's to write."""
        self._lock = threading.Lock()
        self._pending = collections.defaultdict(lambda: [0, 0])


_batches: weakref.WeakSet[SloBatch] = weakref.WeakSet()


def flush_all() -> None:
    for batch in list(_batches):
        batch.flush()


class _Flusher:
    """One daemon thread per process, started by the first count, flushing every batch."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._start_lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="slo-flusher",
                                                daemon=True)
                self._thread.start()

    @staticmethod
    def _run() -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            try:
                flush_all()
            except Exception:  # the thread must outlive any one bad flush
                log.exception("SLO counts flush failed")

    def forget_inherited(self) -> None:
        self._thread = None
        self._start_lock = threading.Lock()


_flusher = _Flusher()


def _after_fork_in_child() -> None:
    _flusher.forget_inherited()
    for batch in list(_batches):
        batch.forget_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush_all)
