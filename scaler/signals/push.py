"""The pushed signal: arrivals that outrun the ready web replicas, heard within a second.

Scraped rates are a 30 s average read every period, so a crowd is seen 15-45 s late. The
listen socket tells at once: connections that queue there mean every worker is busy. Sampled
every second, a backlog that grows is a push, as the simulator models it (docs/simulation.md,
"The levers"): the arrival rate is then what the ready replicas serve at saturation plus
what queues up per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from common import pushed_backlog
from scaler.model import Observation
from scaler.signals.readings import ReplicaCounts


class BacklogSource(Protocol):
    name: str

    def waiting(self) -> int | None: ...


log = logging.getLogger("peakshop.scaler.push")


class PublishedBacklog:
    """The storefront pods' listen backlogs as they publish them to Redis (Kubernetes), summed
    over the pods that published within the last few seconds; one round trip per reading."""

    name = "backlog"

    def __init__(self, client) -> None:
        self.client = client
        self._failing = False

    def waiting(self) -> int | None:
        """Connections waiting over every publishing pod; None when no pod published lately
        or Redis cannot be read (no push then, never a backlog of 0 made up)."""
        import redis

        try:
            board = pushed_backlog.read(self.client)
            if board.stale:
                pushed_backlog.forget(self.client, board.stale)
        except redis.RedisError as error:
            if not self._failing:
                log.warning("pods' listen backlogs unreadable in Redis (no push until they "
                            "are): %s", error)
            self._failing = True
            return None
        self._failing = False
        return board.waiting


class BacklogPush:
    """Hears the storefront's listen backlog grow; `heard` is asked about once a second."""

    def __init__(self, backlog: BacklogSource, replicas: Callable[[], ReplicaCounts],
                 pod_max_rps: float, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, sample_s: float = 1.0) -> None:
        self.backlog = backlog
        self.replicas = replicas
        self.pod_max_rps = pod_max_rps
        self.clock = clock
        self.wall_clock = wall_clock
        self.sample_s = sample_s     # growth is per second at least: two close samples (a
                                     # round in between) must not make a burst look endless
        self._last: tuple[float, int] | None = None   # (when, connections waiting)

    def heard(self, last: Observation) -> Observation | None:
        """A pushed Observation (on top of the last scraped one) when the backlog grew since
        the previous sample; None while it stays, shrinks, or cannot be read."""
        waiting, now = self.backlog.waiting(), self.clock()
        previous, self._last = self._last, (None if waiting is None else (now, waiting))
        if waiting is None or previous is None or waiting <= previous[1] or now <= previous[0]:
            return None
        counts = self.replicas()
        queued_per_s = (waiting - previous[1]) / max(now - previous[0], self.sample_s)
        arrivals = counts.web_ready * self.pod_max_rps + queued_per_s
        # The same fields the simulator's push sets: the rest is the last scrape's.
        return last._replace(
            at_s=self.wall_clock(), request_rate=arrivals, latency_within_slo=False,
            cpu_utilization=1.0, web_ready=counts.web_ready,
            web_requested=counts.web_requested, workers_ready=counts.workers_ready,
            workers_requested=counts.workers_requested, age_s=0.0, pushed=True)
