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


# --- behind the gate: gunicorn's load as gunicorn measures it ---------------------------------
# The busy share of gunicorn's capacity the rate's rise aims at (`admission_rate_rise`).
BUSY_MARK = 0.75
GENTLE_RISE = 1.05     # the rate's rise in a calm second without headroom to measure by
# At most this in one second: load follows the rate a few seconds late. 1.5 overshot in the
# rehearsal under a CPU limit (three rises in a row before the load showed, then a cut by half).
STEEPEST_RISE = 1.25
OPEN_AFTER_SAMPLES = 3  # overload sampled every 0.5 s: over target for a second and more


@dataclass(frozen=True)
class UpstreamLoad:
    """What the gate knows of gunicorn's load, by gunicorn's own clock.

    The gate's own time per request (from sending it to relaying the answer) includes the
    gate's event-loop lag: with the crowd's arrivals and refreshes to answer, the gate's loop
    falls behind and the time looks long while gunicorn idles. So gunicorn times each request
    itself and tells the gate (`waiting_room.service_time`).
    """

    waiting: int              # let-in requests waiting at the gate for a slot
    service_time_s: float     # gunicorn's own mean time per request (0: nothing measured)
    busy_share: float | None  # share of gunicorn's capacity busy over the last second
    slots: int                # requests the gate lets into gunicorn at once
    # requests gunicorn finished per second over the last second, when a queue stood at the
    # gate all that second (so gunicorn served all it could); None otherwise
    drained_per_s: float | None = None

    def slot_time_s(self) -> float:
        """How long a request holds a slot: gunicorn's own time, or, while a queue stands,
        the slots ÷ the requests finished a second (Little's law), when that is longer.

        gunicorn's clock runs only while it works on a request: the pauses between requests
        (a CPU limit that holds the worker back for the rest of its 100 ms period, the kernel
        giving the core to another process) are not in it. Under a CPU limit of 0.1 core
        gunicorn told 9 ms a request while it finished one every 25 ms, and a queue of 62
        looked like half a second when it was a second and a half. The count of requests
        finished includes every pause."""
        if self.drained_per_s is None:
            return self.service_time_s
        return max(self.service_time_s, self.slots / max(self.drained_per_s, 1e-3))

    def signals(self) -> LoadSignals:
        """As a web process's signals: the gate's queue as the backlog."""
        return LoadSignals(listen_backlog=self.waiting, service_time_s=self.slot_time_s(),
                           concurrency=self.slots)


def upstream_level(load: UpstreamLoad, thresholds: LoadThresholds) -> LoadLevel:
    """gunicorn's load level behind the gate (no side effects): the queue of let-in requests
    at the gate, each costing gunicorn's own time per request, as `load_level` reads a
    worker's backlog.

    gunicorn's time, not the gate's: the gate's clock counts its own event-loop lag, which
    comes from answering the crowd in line and does not shrink with the admission rate; with
    it the gate reported overload while gunicorn idled, and held the rate at its minimum for a
    minute. The queue itself counts whoever is slow: the shoppers let in wait in it, and it
    grows with the rate. (The busy share is not a condition here: gunicorn's told times leave
    out its own parsing and writing, so even a saturated worker shows well under 1.) And once
    a queue has stood at the gate for a second, each request costs at least what the slots
    turn over at (`UpstreamLoad.slot_time_s`): the pauses gunicorn's clock misses are then
    counted, whoever causes them.
    """
    return load_level(load.signals(), thresholds)


def overload_has_lasted(samples: list[bool] | tuple[bool, ...],
                        needed: int = OPEN_AFTER_SAMPLES) -> bool:
    """Whether the room may open: overloaded in each of the last `needed` samples.

    A surge's first second forms a short queue even where one worker serves everyone once
    it has caught up: opening on it would turn away shoppers the shop could have served. A
    room already open is cut on the overload of the moment (`admission_rate_cut`).
    """
    recent = list(samples)[-needed:]
    return len(recent) >= needed and all(recent)


def admission_rate_rise(busy_share: float | None) -> float:
    """The factor a calm gate asks the room's rate to grow by this second (no side effects).

    The rate rises in proportion to the headroom gunicorn shows: at a busy share `b` under
    `BUSY_MARK`, admitting `BUSY_MARK / b` times as many would bring it to the mark (load
    follows the rate). At most `STEEPEST_RISE` a second, since the visitors let in now load
    gunicorn over the next seconds; at least the gentle rise of old. The line caps it by
    what it measured served (ADMIT_SCRIPT), so the rate never runs ahead of the visitors who
    actually come in.
    """
    if busy_share is None or busy_share >= BUSY_MARK:
        return GENTLE_RISE
    if busy_share <= BUSY_MARK / STEEPEST_RISE:
        return STEEPEST_RISE
    return max(GENTLE_RISE, BUSY_MARK / busy_share)


def climbing_eta_s(position: int, admit_per_s: float, climb: float = 1.0) -> float:
    """Seconds until `position` is served by a line moving at `admit_per_s` that grows by
    `climb` a second (no side effects).

    While the room is calm `auto` raises its rate every second (`admission_rate_rise`), and
    an ETA at the rate of the moment overestimates the wait: with the rate `r` times
    `climb ** t` after t seconds, `r (climb**t - 1) / ln(climb)` visitors are served by t,
    so the turn of `position` comes at `ln(1 + position ln(climb) / r) / ln(climb)`. A climb
    of 1 (or none: the room was cut, or is `on`) is the plain `position / r`.
    """
    if admit_per_s <= 0 or not math.isfinite(admit_per_s):
        return math.inf
    if not (math.isfinite(climb) and climb > 1.0):
        return position / admit_per_s
    growth = math.log(min(climb, STEEPEST_RISE))
    return math.log1p(position * growth / admit_per_s) / growth


def retry_after_s(eta_s: float, *, floor_s: int = 2, ceiling_s: int = 60) -> int:
    """How long a waiting visitor should wait before asking again: half the ETA, bounded.

    Every refresh of the line is a request the storefront answers, so a long line must not
    ask often: halving the remaining wait each time keeps the place shown fresh while the
    refreshes per visitor grow only with the logarithm of the wait.
    """
    if not math.isfinite(eta_s):
        return ceiling_s
    return int(min(ceiling_s, max(floor_s, math.ceil(eta_s / 2))))
