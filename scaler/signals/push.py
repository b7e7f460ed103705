"""The pushed signal: arrivals that outrun the ready web replicas, heard within a second.

Scraped rates are a 30 s average read every period, so a crowd is seen 15-45 s late. The
listen socket tells at once: connections that queue there mean every worker is busy. Sampled
every second, a backlog that grows is a push: the arrival rate is then what the ready
replicas serve at saturation plus what queues up per second.

Where the pods also say how many of their workers are busy (on Kubernetes beside the
backlog, locally when the storefront publishes it), the push comes before anything queues:
once the arrivals they imply pass `push_at` of the ready replicas' SLO capacity by more than
a second's noise and are still rising (`judge_arrivals`, the one rule the simulator's pods
run too). A busy share `b` of the workers means arrivals of `b x pod_max_rps` per ready
replica (a worker is busy for its share of the arrivals). A second's arrivals vary by about
their square root, and the policy keeps pods right below 0.9 of their SLO capacity: the
mark is 0.92 (a busy share of 0.736), passed by 1.5 of those deviations, and the rate
pushed is that lower bound; chosen on the simulator with per-second arrival noise by both
of its costs, with the policy resizing on a rise's first push (docs/simulation.md, "The
push rule, chosen on the noisy platform", and "A push of small evidence resizes first").
"""

from __future__ import annotations

import collections
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
    """When a sample is a push, and the arrival rate it implies: one rule, live and in the
    simulator (`judge_arrivals`), with the noise of a second's arrivals taken into account."""

    pod_max_rps: float
    slo_utilization: float = 0.8
    # Share of the ready replicas' SLO capacity. The policy sizes pods for 0.9 of it, so a
    # steady load sits just below 0.9 and a second's arrivals cross it by chance all the
    # time: the margin below is what tells a rise from that noise (docs/scaler.md).
    push_at: float = 0.92
    sample_s: float = 1.0         # growth is per second at least
    # A second's arrivals vary by about their square root (Poisson) even when the rate does
    # not: the mean of the last `mean_of` samples must pass the mark by this many standard
    # deviations of such a mean at the mark (0: no margin, for steady rates).
    noise_sd: float = 1.5
    window_s: float = 1.0         # seconds the busy workers are averaged over by the pods
    mean_of: int = 1              # samples (seconds) the scaler averages before judging
    confirm_s: int = 1            # ... and how many such means in a row must pass the mark
    # A second, slower look (0: none): the mean of the last `long_mean_of` samples past the
    # mark by `long_noise_sd` deviations of that mean. A rise just past the pods' capacity
    # hides in a second's noise, most on small Deployments; a longer mean hears it within
    # seconds instead of at the next scrape.
    long_mean_of: int = 0
    long_noise_sd: float = 2.0

    @property
    def busy_at(self) -> float:
        """The busy share of the workers at which arrivals reach `push_at` of SLO capacity."""
        return self.push_at * self.slo_utilization

    def mark(self, capacity: float) -> float:
        """Arrivals per second at `push_at` of the SLO capacity of `capacity` replicas."""
        return self.busy_at * capacity * self.pod_max_rps

    def long_threshold(self, capacity: float) -> float:
        """`threshold` for the mean of `long_mean_of` samples (infinite when there is none)."""
        if self.long_mean_of <= 0:
            return math.inf
        mark = self.mark(capacity)
        return mark + self.long_noise_sd * math.sqrt(mark / (self.window_s * self.long_mean_of))

    def threshold(self, capacity: float) -> float:
        """Arrivals per second (the mean of `mean_of` samples) that are a push: the mark,
        plus `noise_sd` deviations of that mean for a steady load right at the mark."""
        mark = self.mark(capacity)
        if not self.noise_sd:
            return mark
        return mark + self.noise_sd * math.sqrt(mark / (self.window_s * self.mean_of))


def busy_arrivals(busy_share: float | None, ready: float, rule: PushRule) -> float | None:
    """Arrivals a busy share implies over `ready` replicas' worth of capacity (ready pods
    times their in-pod size: a pod resized to 2x runs twice the workers); None when
    unknown. Pure."""
    return None if busy_share is None else busy_share * ready * rule.pod_max_rps


@dataclass(frozen=True)
class PushVerdict:
    """What one sample says: the arrival rate to push (None: no push), and the arrivals
    pushed since they passed the mark (None: they are below it; the episode is over)."""

    rate: float | None
    pushed_low: float | None


def judge_arrivals(arrivals: float | None, capacity: float, rule: PushRule,
                   pushed: float | None = None, long_arrivals: float | None = None
                   ) -> PushVerdict:
    """Whether arrivals over `capacity` ready replicas (times their in-pod size) are a push,
    `pushed` being the arrivals pushed since they last were below the mark. `arrivals` is the
    lowest of the rule's last `confirm_s` means of `mean_of` samples; `long_arrivals` the mean
    of its last `long_mean_of` (None: not known, or no such look). Pure; the simulator's
    pods use it second by second.

    A push when either passes its threshold for the first time since arrivals were below
    the mark, or rises by RISING past what was pushed: sent when pressure starts or keeps
    rising, not while it merely stays. The rate pushed is the lower bound (the mean less its
    margin): a mean that passes the threshold was likely lifted by noise, and the policy
    plans for the rate it is told, with growth; what rises further is pushed again.
    """
    if arrivals is None or capacity < 1:
        return PushVerdict(None, pushed)
    return PushVerdict(*judge_against(
        arrivals, rule.mark(capacity), rule.threshold(capacity),
        rule.long_threshold(capacity) if long_arrivals is not None else math.inf,
        pushed, long_arrivals))


def judge_against(arrivals: float, mark: float, threshold: float, long_threshold: float,
                  pushed: float | None, long_arrivals: float | None
                  ) -> tuple[float | None, float | None]:
    """`judge_arrivals` for arrivals known and capacity of at least one replica, the rule's
    `mark`, `threshold` and `long_threshold` at that capacity given: (rate, pushed_low) as a
    plain pair. The simulator judges each second of a season's busy ticks and works the
    three limits out once per capacity."""
    level = rate = None
    if arrivals >= threshold:
        level, rate = arrivals, arrivals - (threshold - mark)
    if long_arrivals is not None and long_arrivals >= long_threshold and (
            level is None or long_arrivals > level):
        level = long_arrivals
        rate = max(rate or 0.0, long_arrivals - (long_threshold - mark))
    if level is not None:
        if pushed is None or level > RISING * pushed:
            return rate, level
        return None, pushed
    return None, (None if arrivals < mark else pushed)


def judge_sample(previous: tuple[float, Pressure] | None, now: float, current: Pressure,
                 ready: float, rule: PushRule, pushed_low: float | None = None,
                 arrivals: float | None = None, long_arrivals: float | None = None
                 ) -> PushVerdict:
    """Whether `current` (sampled at `now`, after `previous`) is a push, `ready` being the
    ready replicas times their in-pod size; `arrivals`, the mean the busy workers implied
    over the rule's last `mean_of` samples (None: this sample's alone). Pure.

    - the accept queue grew: every worker is busy; arrivals are what the ready replicas
      serve at saturation plus what queued up per second;
    - else the busy workers' arrivals are judged by `judge_arrivals`.
    """
    if arrivals is None and rule.mean_of <= 1 and rule.confirm_s <= 1:
        arrivals = busy_arrivals(current.busy_share, ready, rule)
    if previous is not None and now > previous[0]:
        before, elapsed = previous[1], max(now - previous[0], rule.sample_s)
        if (current.waiting is not None and before.waiting is not None
                and current.waiting > before.waiting):
            rate = ready * rule.pod_max_rps + (current.waiting - before.waiting) / elapsed
            return PushVerdict(rate, max(arrivals or 0.0, pushed_low or 0.0) or None)
    return judge_arrivals(arrivals, ready, rule, pushed_low, long_arrivals)


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
                 noise_sd: float = PushRule.noise_sd, mean_of: int = PushRule.mean_of,
                 confirm_s: int = PushRule.confirm_s,
                 long_mean_of: int = PushRule.long_mean_of,
                 long_noise_sd: float = PushRule.long_noise_sd) -> None:
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
        self.rule = PushRule(pod_max_rps, slo_utilization, push_at, sample_s, noise_sd,
                             mean_of=mean_of, confirm_s=confirm_s,
                             long_mean_of=long_mean_of, long_noise_sd=long_noise_sd)
        # The arrivals the last samples' busy workers implied (the rule judges their mean);
        # emptied when a sample says nothing, so a mean never spans a gap.
        self._recent: collections.deque[float] = collections.deque(maxlen=max(1, mean_of))
        self._means: collections.deque[float] = collections.deque(maxlen=max(1, confirm_s))
        self._long: collections.deque[float] = collections.deque(maxlen=max(1, long_mean_of))
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
            self._recent.clear()
            self._means.clear()
            self._long.clear()
            return None
        counts = self.replicas()
        ready = counts.web_ready * self.pod_size()
        implied = busy_arrivals(current.busy_share, ready, self.rule)
        if implied is None:
            self._recent.clear()
            self._long.clear()
        else:
            self._recent.append(implied)
            self._long.append(implied)
        if len(self._recent) == self._recent.maxlen:
            self._means.append(sum(self._recent) / len(self._recent))
        else:
            self._means.clear()
        mean = min(self._means) if len(self._means) == self._means.maxlen else None
        long_mean = (sum(self._long) / len(self._long)
                     if self.rule.long_mean_of and len(self._long) == self._long.maxlen
                     else None)
        verdict = judge_sample(previous, now, current, ready, self.rule, self._pushed_low,
                               arrivals=mean, long_arrivals=long_mean)
        self._pushed_low, arrivals = verdict.pushed_low, verdict.rate
        if arrivals is None:
            return None
        # The same fields the simulator's push sets: the rest is the last scrape's.
        return last._replace(
            at_s=self.wall_clock(), request_rate=arrivals, latency_within_slo=False,
            cpu_utilization=1.0, web_ready=counts.web_ready,
            web_requested=counts.web_requested, workers_ready=counts.workers_ready,
            workers_requested=counts.workers_requested, age_s=0.0, pushed=True)
