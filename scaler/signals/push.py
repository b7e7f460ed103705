"""The pushed signal: arrivals that outrun the ready web replicas, heard within a second.

Scraped rates are a 30 s average read every period, so a crowd is seen 15-45 s late. The
listen socket tells at once: connections that queue there mean every worker is busy. Sampled
every second, a backlog that grows is a push: the arrival rate is then what the ready
replicas serve at saturation plus what queues up per second.

Where the pods also say how many of their workers are busy (on Kubernetes beside the
backlog, locally when the storefront publishes it), the push comes before anything queues:
once the arrivals they imply pass `push_at` of the ready replicas' SLO capacity and are
still rising, as the simulator's pods push (docs/simulation.md, "The levers"). A busy share
`b` of the workers means arrivals of `b x pod_max_rps` per ready replica (a worker is busy
for its share of the arrivals). Unlike the simulator's steady rates, a second's arrivals
vary by about their square root, and the policy keeps pods right below 0.9 of their SLO
capacity: so live the mark is 0.95 (a busy share of 0.76), and it must be passed by two of
those deviations (docs/scaler.md, "Why 0.95 and a margin").
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common import pushed_backlog
from scaler.model import Observation
from scaler.signals.readings import ReplicaCounts


class BacklogSource(Protocol):
    name: str

    def waiting(self) -> int | None: ...


log = logging.getLogger("peakshop.scaler.push")

# A push is sent while pressure keeps rising: arrivals up this much since the last sample
# (the simulator's rule, second by second).
RISING = 1.05


@dataclass(frozen=True)
class Pressure:
    """One sample of the storefront: its accept queue, and the share of its workers busy."""

    waiting: int | None            # connections queued; None: unknown
    busy_share: float | None = None  # busy workers / workers (0..1); None: not said


@dataclass(frozen=True)
class PushRule:
    """When a sample is a push, and the arrival rate it implies: the simulator's rule, with
    the noise of a one-second sample taken into account."""

    pod_max_rps: float
    slo_utilization: float = 0.8
    # Share of the ready replicas' SLO capacity. The simulator's pods push at 0.9, the very
    # share the policy sizes for, which its steady rates never cross by chance; live, a
    # second's arrivals do all the time, so the mark is a little above it (docs/scaler.md).
    push_at: float = 0.95
    sample_s: float = 1.0         # growth is per second at least
    # A second's arrivals vary by about their square root (Poisson) even when the rate does
    # not: the busy workers must say arrivals passed the mark by this many of those standard
    # deviations. The simulator's rates are steady within a minute, so its push needs none
    # (0: exactly the simulator's rule); live, without it, a pod running steadily at 0.8 of
    # its SLO capacity would push every few seconds (docs/scaler.md).
    noise_sd: float = 2.0
    window_s: float = 1.0         # seconds the busy workers are averaged over by the pods

    @property
    def busy_at(self) -> float:
        """The busy share of the workers at which arrivals reach `push_at` of SLO capacity."""
        return self.push_at * self.slo_utilization


def busy_arrivals(busy_share: float | None, ready: float, rule: PushRule) -> float | None:
    """Arrivals a busy share implies over `ready` replicas' worth of capacity (ready pods
    times their in-pod size: a pod resized to 2x runs twice the workers); None when
    unknown. Pure."""
    return None if busy_share is None else busy_share * ready * rule.pod_max_rps


@dataclass(frozen=True)
class PushVerdict:
    """What one sample says: the arrival rate to push (None: no push), and the pressure the
    scaler has pushed since arrivals passed the mark (None: they are below it)."""

    rate: float | None
    pushed_low: float | None


def judge_sample(previous: tuple[float, Pressure] | None, now: float, current: Pressure,
                 ready: float, rule: PushRule, pushed_low: float | None = None) -> PushVerdict:
    """Whether `current` (sampled at `now`, after `previous`) is a push, `ready` being the
    ready replicas times their in-pod size. Pure.

    - the accept queue grew: every worker is busy; arrivals are what the ready replicas
      serve at saturation plus what queued up per second;
    - else the busy workers say arrivals passed `push_at` of the SLO capacity (by
      `noise_sd` standard deviations: `pushed_low` is that lower bound) for the first time
      since they were below it, or rose by RISING past what was pushed: arrivals as they
      imply. As the simulator's push: sent when pressure starts or keeps rising, not while
      it merely stays.
    """
    arrivals = busy_arrivals(current.busy_share, ready, rule)
    low = (None if arrivals is None or ready < 1
           else arrivals - rule.noise_sd * math.sqrt(arrivals / rule.window_s))
    if previous is not None and now > previous[0]:
        before, elapsed = previous[1], max(now - previous[0], rule.sample_s)
        if (current.waiting is not None and before.waiting is not None
                and current.waiting > before.waiting):
            rate = ready * rule.pod_max_rps + (current.waiting - before.waiting) / elapsed
            return PushVerdict(rate, max(low or 0.0, pushed_low or 0.0) or None)
    if low is None:
        return PushVerdict(None, pushed_low)
    mark = rule.busy_at * ready * rule.pod_max_rps
    if low >= mark:
        if pushed_low is None or low > RISING * pushed_low:
            return PushVerdict(arrivals, low)
        return PushVerdict(None, pushed_low)
    return PushVerdict(None, None if arrivals < mark else pushed_low)


def pushed_rate(previous: tuple[float, Pressure] | None, now: float, current: Pressure,
                ready: float, rule: PushRule, pushed_low: float | None = None) -> float | None:
    """The arrival rate to push for `current`; None when it is no push (`judge_sample`)."""
    return judge_sample(previous, now, current, ready, rule, pushed_low).rate


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
        return self.pressure().waiting

    def pressure(self) -> Pressure:
        """The backlog and the busy share of the workers of the pods that say; unknown
        (None) where no pod said lately or Redis cannot be read."""
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
            return Pressure(None)
        self._failing = False
        return Pressure(board.waiting, board.busy_share)


class SocketAndPublished:
    """Locally: the accept queue read from the storefront's socket itself, and the busy
    share of its workers from what its gunicorn master publishes to Redis when it does
    (PEAKSHOP_PUBLISH_BACKLOG=true); without that, the backlog alone (a push at saturation)."""

    name = "backlog"

    def __init__(self, socket: BacklogSource, published: PublishedBacklog) -> None:
        self.socket = socket
        self.published = published

    def waiting(self) -> int | None:
        return self.socket.waiting()

    def pressure(self) -> Pressure:
        waiting = self.socket.waiting()
        if waiting is None:
            return Pressure(None)
        return Pressure(waiting, self.published.pressure().busy_share)


class BacklogPush:
    """Hears the storefront fill up; `heard` is asked about once a second."""

    def __init__(self, backlog: BacklogSource, replicas: Callable[[], ReplicaCounts],
                 pod_max_rps: float, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, sample_s: float = 1.0,
                 slo_utilization: float = 0.8, push_at: float = PushRule.push_at,
                 noise_sd: float = PushRule.noise_sd) -> None:
        self.backlog = backlog
        self.replicas = replicas
        # The in-pod size the web pods were last given (the controller keeps it): busy
        # workers of a pod resized to 2x are twice the arrivals.
        self.pod_size: Callable[[], float] = lambda: 1.0
        self.pod_max_rps = pod_max_rps
        self.clock = clock
        self.wall_clock = wall_clock
        # growth is per second at least: two close samples (a round in between) must not
        # make a burst look endless
        self.rule = PushRule(pod_max_rps, slo_utilization, push_at, sample_s, noise_sd)
        self._last: tuple[float, Pressure] | None = None   # (when, what it said)
        self._pushed_low: float | None = None   # pushed since arrivals passed the mark

    def sample(self) -> Pressure:
        pressure = getattr(self.backlog, "pressure", None)
        return pressure() if pressure is not None else Pressure(self.backlog.waiting())

    def heard(self, last: Observation) -> Observation | None:
        """A pushed Observation (on top of the last scraped one) when the backlog grew since
        the previous sample, or the busy workers say arrivals passed `push_at` of the SLO
        capacity and are rising; None otherwise, or when nothing can be read."""
        current, now = self.sample(), self.clock()
        previous = self._last
        self._last = None if current.waiting is None else (now, current)
        if current.waiting is None:
            return None
        counts = self.replicas()
        verdict = judge_sample(previous, now, current, counts.web_ready * self.pod_size(),
                               self.rule, self._pushed_low)
        self._pushed_low, arrivals = verdict.pushed_low, verdict.rate
        if arrivals is None:
            return None
        # The same fields the simulator's push sets: the rest is the last scrape's.
        return last._replace(
            at_s=self.wall_clock(), request_rate=arrivals, latency_within_slo=False,
            cpu_utilization=1.0, web_ready=counts.web_ready,
            web_requested=counts.web_requested, workers_ready=counts.workers_ready,
            workers_requested=counts.workers_requested, age_s=0.0, pushed=True)
