"""Pure decisions of the waiting room and the shedder: no I/O, no clock, no side effects.

The storefront sheds in order of value when it cannot keep up: crawlers first, then
anonymous browsing, then (only when requests would time out anyway) browsing by visitors
the room already let in and carts; a checkout is never shed, because a refused checkout is
a lost sale and a charged card may be waiting on it. Operations (health, metrics, merchants)
are never shed either: they are how people see and fix the overload.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class RequestClass(enum.IntEnum):
    """What a request is worth to the shop, lowest first."""

    CRAWLER = 0
    ANONYMOUS_BROWSE = 1   # browsing without a pass from the waiting room
    ADMITTED_BROWSE = 2    # browsing with a valid pass
    CART = 3               # a shopper with a cart: adds, views, shipping options
    CHECKOUT = 4           # paying, and the order page that follows
    ESSENTIAL = 5          # operations and merchants: never gated, never shed


class LoadLevel(enum.IntEnum):
    """How far behind the server is, by the wait a new request would face."""

    NORMAL = 0
    ELEVATED = 1   # the queue ahead of a new request costs half the latency SLO
    HIGH = 2       # ... the whole SLO
    SEVERE = 3     # ... four times the SLO
    CRITICAL = 4   # ... so long that requests would time out (see `critical_wait_s`)


class Verdict(enum.Enum):
    ADMIT = "admit"
    SHED = "shed"


# The lowest level at which each class is shed; None: never.
# Shedding is there to prevent a collapse, not to enforce the SLO: a page served in 0.8 s
# beats a refusal, one that waits 2 s in the queue does not.
SHED_FROM: dict[RequestClass, LoadLevel | None] = {
    RequestClass.CRAWLER: LoadLevel.HIGH,
    RequestClass.ANONYMOUS_BROWSE: LoadLevel.SEVERE,
    RequestClass.ADMITTED_BROWSE: LoadLevel.CRITICAL,
    RequestClass.CART: LoadLevel.CRITICAL,
    RequestClass.CHECKOUT: None,
    RequestClass.ESSENTIAL: None,
}


def shed_or_admit(request_class: RequestClass, level: LoadLevel) -> Verdict:
    """Admit or shed a request of `request_class` at `level` (no side effects)."""
    threshold = SHED_FROM[request_class]
    if threshold is not None and level >= threshold:
        return Verdict.SHED
    return Verdict.ADMIT


@dataclass(frozen=True)
class LoadSignals:
    """What one storefront process knows about its own load, read at most twice a second."""

    listen_backlog: int          # connections waiting to be accepted on the shared socket
    service_time_s: float        # recent mean time a worker spends on one request
    concurrency: int             # requests the server works on at once (workers x threads)


@dataclass(frozen=True)
class LoadThresholds:
    slo_s: float = 0.5             # the p95 latency shoppers are promised
    critical_wait_s: float = 20.0  # below gunicorn's 30 s timeout: beyond it requests fail


def queue_wait_s(signals: LoadSignals) -> float:
    """The wait a request arriving now faces before a worker takes it (Little's law)."""
    return signals.listen_backlog * signals.service_time_s / max(1, signals.concurrency)


def load_level(signals: LoadSignals, thresholds: LoadThresholds) -> LoadLevel:
    """The load level of the server from its signals (no side effects).

    The wait in the accept queue is what the latency histogram cannot see; a slow service
    time on its own (a slow database) also counts, since every request then breaks the SLO.
    """
    wait = queue_wait_s(signals)
    if wait >= thresholds.critical_wait_s:
        return LoadLevel.CRITICAL
    total = wait + signals.service_time_s
    if total >= 4 * thresholds.slo_s:
        return LoadLevel.SEVERE
    if total >= thresholds.slo_s:
        return LoadLevel.HIGH
    if total >= thresholds.slo_s / 2:
        return LoadLevel.ELEVATED
    return LoadLevel.NORMAL


def room_should_open(level: LoadLevel) -> bool:
    """In `auto` mode, whether this process's load asks the room to open (or stay open).

    ELEVATED, not HIGH: the room must hold the crowd back before the queue reaches the SLO,
    and before the shedder starts refusing anonymous visitors.
    """
    return level >= LoadLevel.ELEVATED


# How the admission rate of `auto` answers overload, once a second (see `admission_rate_cut`).
GENTLE_CUT = 0.9       # overloaded, with no long queue of let-in requests to measure by
DEEPEST_CUT = 0.5      # at most halved in one second: the queue lags the rate, so a deeper cut
#                        would overshoot and the line would crawl while the rate climbs back
DRAIN_HORIZON_S = 2.0  # a queue on course to its target within this long needs no further cut


def admission_rate_cut(signals: LoadSignals, backlog_a_second_ago: int,
                       thresholds: LoadThresholds) -> float:
    """The factor an overloaded server asks the room to multiply its admission rate by this
    second: 1.0 holds it, less cuts it (no side effects).

    `signals.listen_backlog` is the queue of requests already let in (at the gate, waiting for
    a slot in gunicorn). Its target is the wait that marks the ELEVATED level, half the SLO.
    Over it, the rate is cut in proportion to how far over it is (twice the target: halved),
    so a rate set too high comes down within a second or two instead of 10% at a time while
    the let-in requests queue. A queue falling fast enough to reach its target within
    `DRAIN_HORIZON_S` holds the rate: the cut has already worked, and cutting again while the
    queue drains would only starve the shop. Without a queue over target (a slow service time
    alone), the gentle cut of old.
    """
    target_s = thresholds.slo_s / 2
    wait_s = queue_wait_s(signals)
    if wait_s <= target_s or signals.service_time_s <= 0:
        return GENTLE_CUT
    backlog = signals.listen_backlog
    target_backlog = target_s * max(1, signals.concurrency) / signals.service_time_s
    falling_per_s = backlog_a_second_ago - backlog
    if falling_per_s > 0 and backlog - falling_per_s * DRAIN_HORIZON_S <= target_backlog:
        return 1.0
    return max(DEEPEST_CUT, min(GENTLE_CUT, target_s / wait_s))


def retry_after_s(eta_s: float, *, floor_s: int = 2, ceiling_s: int = 60) -> int:
    """How long a waiting visitor should wait before asking again: half the ETA, bounded.

    Every refresh of the line is a request the storefront answers, so a long line must not
    ask often: halving the remaining wait each time keeps the place shown fresh while the
    refreshes per visitor grow only with the logarithm of the wait.
    """
    if not math.isfinite(eta_s):
        return ceiling_s
    return int(min(ceiling_s, max(floor_s, math.ceil(eta_s / 2))))
