"""The requests in flight to gunicorn: at most `limit` at once, the rest waiting here.

gunicorn's workers take connections from the kernel's accept queue in arrival order, and a
queue there is invisible and unordered. Holding the excess here instead keeps that queue
short, serves the most valuable waiting request first (then the oldest), and turns the wait
into a signal: the same `LoadSignals` a gunicorn worker reads from its listen backlog, with
the requests waiting for a slot as the backlog.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque

from shop.waiting_room.decision import (
    LoadLevel,
    LoadSignals,
    LoadThresholds,
    RequestClass,
    UpstreamLoad,
    admission_rate_cut,
    admission_rate_rise,
    upstream_level,
)

SERVICE_TIME_WEIGHT = 0.1   # of the newest request in the moving average, as in signals.py
BACKLOG_SAMPLES = 3         # sampled every 0.5 s by the gate: the oldest is a second old
SLOTS_PER_WORKER = 2        # the gate's default: twice gunicorn's workers x threads


class SlotWaitTimeout(Exception):
    """No slot came free in time: gunicorn is not keeping up at all."""


class UpstreamSlots:
    """A priority semaphore: `acquire(request_class)` waits for one of `limit` slots."""

    def __init__(self, limit: int, thresholds: LoadThresholds) -> None:
        self.limit = limit
        self.thresholds = thresholds
        self.in_flight = 0
        self.waiting = 0
        self.service_time_s = 0.0          # by the gate's clock, its own delays included
        self.upstream_time_s = 0.0         # by gunicorn's (told in a header); 0: never told
        self._told_busy_s = 0.0            # gunicorn's seconds told, summed
        self._held_s = 0.0                 # seconds requests held a slot, by the gate's clock
        self._busy_marks: deque[tuple[float, float, float]] = deque(maxlen=BACKLOG_SAMPLES)
        self._queue: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._backlogs: deque[int] = deque(maxlen=BACKLOG_SAMPLES)
        self._finished = 0                 # requests gunicorn answered, counted
        self._finish_marks: deque[tuple[float, int]] = deque(maxlen=BACKLOG_SAMPLES)

    async def acquire(self, request_class: RequestClass, timeout_s: float) -> None:
        """Take a slot, waiting at most `timeout_s`; SlotWaitTimeout after that."""
        if self.in_flight < self.limit and self.waiting == 0:
            self.in_flight += 1
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (-int(request_class), next(self._order), future))
        self.waiting += 1
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except (TimeoutError, asyncio.CancelledError) as stopped:
            if future.done():
                self.release(0.0, served=False)   # handed over as we gave up: pass it on
            else:
                future.cancel()
                self.waiting -= 1
            if isinstance(stopped, asyncio.CancelledError):
                raise
            raise SlotWaitTimeout() from None

    def release(self, service_s: float, served: bool = True,
                upstream_s: float | None = None) -> None:
        """Give the slot back: to the most valuable request waiting (the oldest of its
        class), or to nobody. `upstream_s`: the time gunicorn says it spent on it."""
        if served:
            self.service_time_s += (service_s - self.service_time_s) * SERVICE_TIME_WEIGHT
            self._finished += 1
            self._held_s += service_s
        if served and upstream_s is not None:
            self.upstream_time_s += (upstream_s - self.upstream_time_s) * SERVICE_TIME_WEIGHT
            self._told_busy_s += upstream_s
        if self.in_flight > self.limit:   # the limit was lowered: this slot goes away
            self.in_flight -= 1
            return
        while self._queue:
            *_, future = heapq.heappop(self._queue)
            if not future.done():
                self.waiting -= 1
                future.set_result(None)   # the slot passes on: in_flight stays
                return
        self.in_flight -= 1

    def resize(self, limit: int) -> None:
        """A new limit (gunicorn gained or lost workers): more slots serve the waiting at
        once; fewer take effect as requests finish."""
        self.limit = max(1, limit)
        while self.in_flight < self.limit and self._queue:
            *_, future = heapq.heappop(self._queue)
            if not future.done():
                self.waiting -= 1
                self.in_flight += 1
                future.set_result(None)

    def busy_share(self) -> float | None:
        """The share of gunicorn's capacity its requests kept busy over the last second;
        None until gunicorn has told any time (an upstream that does not time itself).

        The larger of two readings: gunicorn's told seconds over its capacity (this gate's
        slots ÷ SLOTS_PER_WORKER), and the share of slot-seconds the requests held, by the
        gate's clock. gunicorn's clock misses the pauses between its requests (under a CPU
        limit of 0.15 core it showed 0.44 while the limit held it back), and a rise by
        headroom that is not there overshoots; the slots held see those pauses. The gate's
        clock also counts its own lag, which can only make the share look higher, and so
        the rate rise slower, never faster."""
        if len(self._busy_marks) < 2 or self.upstream_time_s <= 0:
            return None
        (first_at, first_s, first_held), (last_at, last_s, last_held) = (
            self._busy_marks[0], self._busy_marks[-1])
        seconds = last_at - first_at
        if seconds <= 0:
            return None
        told = (last_s - first_s) / (seconds * self.limit / SLOTS_PER_WORKER)
        held = (last_held - first_held) / (seconds * self.limit)
        return max(told, held)

    def drained_per_s(self) -> float | None:
        """Requests gunicorn finished per second over the last samples (about a second), if
        a queue stood at the gate in each of them: then gunicorn was served all it could
        take, and the count is its capacity of the moment. None otherwise."""
        if len(self._finish_marks) < 2 or not all(self._backlogs):
            return None
        (first_at, first_n), (last_at, last_n) = self._finish_marks[0], self._finish_marks[-1]
        return (last_n - first_n) / (last_at - first_at) if last_at > first_at else None

    def load(self) -> UpstreamLoad:
        """gunicorn's load as gunicorn measures it; by the gate's clock where it does not
        say (then without a busy share: the queue counts as it always did)."""
        told = self.upstream_time_s > 0
        return UpstreamLoad(waiting=self.waiting,
                            service_time_s=self.upstream_time_s if told else self.service_time_s,
                            busy_share=self.busy_share() if told else None, slots=self.limit,
                            drained_per_s=self.drained_per_s())

    def signals(self) -> LoadSignals:
        return self.load().signals()

    def level(self) -> LoadLevel:
        return upstream_level(self.load(), self.thresholds)

    def sample_backlog(self, now: float | None = None) -> None:
        """Note the queue now (the gate calls this every 0.5 s): how fast it drains tells
        whether the room's last cut of its rate is already working; and gunicorn's seconds
        told so far, for its busy share."""
        now = time.monotonic() if now is None else now
        self._backlogs.append(self.waiting)
        self._busy_marks.append((now, self._told_busy_s, self._held_s))
        self._finish_marks.append((now, self._finished))

    def rate_cut(self) -> float:
        """The factor to ask the room's rate to be multiplied by while overloaded."""
        before = self._backlogs[0] if self._backlogs else self.waiting
        return admission_rate_cut(self.signals(), before, self.thresholds)

    def rate_rise(self) -> float:
        """The factor to ask the room's rate to grow by while calm."""
        return admission_rate_rise(self.load().busy_share)
