"""The load generator's own garbage-collection pauses: fewer of them, and each long one told.

A surge leaves tens of thousands of shoppers waiting in line, each a sleeping greenlet with
its state, and Python's full (generation 2) collection walks every one of them: in the
rehearsal its pauses grew from 250 to 700 ms over the run, every few seconds, and each froze
every greenlet of Locust at once, so the requests in flight looked that much slower than the
shop served them (the loop lag of the timeline). Locust is the measuring instrument here, so
its pauses are kept out of the figures it reports on the shop:

- what exists when the load starts (Locust, gevent, the modules) is frozen out of every
  collection (`gc.freeze`);
- a full collection runs after 1 000 middle-generation ones instead of 10 (the interpreter's
  default): the young ones still free most garbage at once, and a full one still comes, only
  rarely (after 100, two to four of 400-900 ms remained in a 150 s surge; the garbage a full
  one frees, 40 000-120 000 objects, waits meanwhile: tens of MB);
- every full collection longer than `LONG_PAUSE_S` is logged, with its duration, so that a
  report whose loop lag shows spikes says where they came from.
"""

from __future__ import annotations

import gc
import logging
import time

LONG_PAUSE_S = 0.05
FULL_COLLECTION_EVERY = 1000  # middle-generation collections per full one (default 10)

log = logging.getLogger("peakshop.loadtests")


class CollectionPauses:
    """Times the interpreter's full collections through `gc.callbacks`."""

    def __init__(self, long_pause_s: float = LONG_PAUSE_S) -> None:
        self.long_pause_s = long_pause_s
        self.full_collections = 0
        self.longest_s = 0.0
        self._started_at: float | None = None

    def __call__(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started_at = time.perf_counter()
            return
        if self._started_at is None:
            return
        paused_s = time.perf_counter() - self._started_at
        self._started_at = None
        self.full_collections += 1
        self.longest_s = max(self.longest_s, paused_s)
        if paused_s >= self.long_pause_s:
            log.warning("a full garbage collection paused the load generator for %.0f ms "
                        "(%d objects collected)", paused_s * 1000, info.get("collected", 0))


def stop_timing(pauses: CollectionPauses) -> None:
    """No more timing (Locust is quitting: a collection during the interpreter's shutdown
    must not try to log)."""
    if pauses in gc.callbacks:
        gc.callbacks.remove(pauses)


def collect_less(pauses: CollectionPauses) -> None:
    """Freeze what exists, make full collections rarer, and time them (idempotent)."""
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    if pauses not in gc.callbacks:
        gc.callbacks.append(pauses)
