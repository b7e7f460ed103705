"""Open arrivals on top of Locust's closed user model, and the per-second tally of what happened.

Locust users loop "run a task, wait, repeat", so a slow server slows the users down and the
load it is offered quietly drops. Here every shopper instead owns a fixed timetable: one visit
every `pacing_s`, at a random phase. N such users offer N / pacing_s visits per second whatever
the response times, and a shape sets N = rate x pacing_s to follow a trace. A visit that
overruns its user's next slot does not push the timetable back: the slots it covered are
counted as *dropped* arrivals (offered, never started on time), so offered = started + dropped.

Pure: no Locust import, so the shapes, the recorder and the tests share it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

DEFAULT_PACING_S = 10.0
# A visit that starts this long after its slot means the load generator itself fell behind
# (starved of CPU): the arrival happened, but not when the trace asked for it.
LATE_AFTER_S = 1.0


def users_for_rate(rate: float, pacing_s: float = DEFAULT_PACING_S) -> int:
    """Paced users needed to offer `rate` visits per second."""
    if rate <= 0:
        return 0
    return max(1, round(rate * pacing_s))


def offered_rate(users: int, pacing_s: float = DEFAULT_PACING_S) -> float:
    """Visits per second that `users` paced users offer."""
    return users / pacing_s


@dataclass
class PacedTimetable:
    """One user's visit slots, `pacing_s` apart from a random first one."""

    pacing_s: float = DEFAULT_PACING_S
    slot: float | None = None  # nominal start of the current (or next) visit

    def first_wait(self, now: float, phase: float) -> float:
        """Seconds until the first slot; `phase` in [0, 1) spreads users over one period."""
        self.slot = now + phase * self.pacing_s
        return self.slot - now

    def is_late(self, now: float) -> bool:
        """Whether a visit starting `now` starts more than LATE_AFTER_S after its slot."""
        return self.slot is not None and now - self.slot > LATE_AFTER_S

    def next_wait(self, now: float, phase: float,
                  on_dropped: Callable[[int], None]) -> float:
        """Locust's `wait_time`: until the first slot, then until the next one, reporting
        the slots an overrunning visit missed to `on_dropped`."""
        if self.slot is None:
            return self.first_wait(now, phase)
        wait_s, missed = self.after_visit(now)
        if missed:
            on_dropped(missed)
        return wait_s

    def after_visit(self, now: float) -> tuple[float, int]:
        """Seconds to wait for the next slot, and how many slots the last visit overran.

        Slots stay on the nominal grid (slot + k * pacing_s), so gevent's wake-up jitter
        never accumulates into a slower rate.
        """
        if self.slot is None:
            raise RuntimeError("after_visit() before first_wait(): the timetable has no slot")
        following = self.slot + self.pacing_s
        missed = 0
        if now > following:
            missed = math.ceil((now - following) / self.pacing_s)
            following += missed * self.pacing_s
        self.slot = following
        return following - now, missed


def rounded_ms(seconds: float) -> int:
    """Response time in ms, rounded like Locust does (2 significant digits above 100 ms)."""
    ms = seconds * 1000.0
    if ms < 100:
        return int(round(ms))
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


def percentile_s(latencies_ms: Counter, fraction: float) -> float | None:
    """The `fraction` percentile (0..1) of a {rounded ms: count} histogram, in seconds."""
    total = sum(latencies_ms.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value in sorted(latencies_ms):
        seen += latencies_ms[value]
        if seen >= rank:
            return value / 1000.0
    return max(latencies_ms) / 1000.0  # unreachable: rank <= total


HISTOGRAMS = ("latencies_ms", "eta_pairs")
WAITING_POSITION_HEADER = "Peakshop-Waiting-Room-Position"


def is_waiting_answer(response) -> bool:
    """Whether `response` is the waiting room's 503 (it carries the visitor's position): a
    visitor still in line, not a request the shop served or failed. (A shed request is a
    503 too, without a position: that one is a failure.)"""
    return (getattr(response, "status_code", None) == 503
            and bool(getattr(response, "headers", None))
            and response.headers.get(WAITING_POSITION_HEADER) is not None)


@dataclass
class Tally:
    """What happened in one second (or a whole run): arrivals, visits, requests, orders."""

    started: int = 0            # visits started on their slot
    late: int = 0               # ... of which more than LATE_AFTER_S after it
    dropped: int = 0            # slots a busy user could not start on time
    visits_ok: int = 0          # visits that ended without an unexpected failure
    visits_failed: int = 0
    requests: int = 0
    failures: int = 0           # requests with an unexpected outcome (Locust failures)
    orders_paid: int = 0
    payments_declined: int = 0  # tok_declined: 201 payment_failed, expected
    sold_out: int = 0           # 409 insufficient_stock, expected
    loop_lag_ms: int = 0        # worst delay of Locust's event loop: it inflates latencies
    # The waiting room: visits told to wait, answers that said so, visits let in after waiting
    # (counted when let in, with the wait first predicted for them and the one they had).
    in_line: int = 0
    waiting_answers: int = 0
    waiting_answers_without_eta: int = 0   # a 503 waiting_room lacking position or eta_s
    admitted_from_line: int = 0
    predicted_wait_ms: int = 0             # sums over the visits let in this second
    actual_wait_ms: int = 0
    latencies_ms: Counter = field(default_factory=Counter)
    # "predicted_s:actual_s" -> visits, for the ETA's error over a whole run
    eta_pairs: Counter = field(default_factory=Counter)

    @property
    def offered(self) -> int:
        """Visits the timetables asked for: started on time or dropped."""
        return self.started + self.dropped

    def add(self, other: Tally) -> None:
        """Fold `other` into this tally."""
        for item in fields(self):
            if item.name in HISTOGRAMS:
                getattr(self, item.name).update(getattr(other, item.name))
            elif item.name == "loop_lag_ms":
                self.loop_lag_ms = max(self.loop_lag_ms, other.loop_lag_ms)
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def to_json(self) -> dict:
        """A JSON-friendly dict (histogram keys as strings), the inverse of `from_json`."""
        body = {item.name: getattr(self, item.name) for item in fields(self)
                if item.name not in HISTOGRAMS}
        body["latencies_ms"] = {str(ms): count for ms, count in self.latencies_ms.items()}
        body["eta_pairs"] = dict(self.eta_pairs)
        return body

    @classmethod
    def from_json(cls, body: dict) -> Tally:
        """Rebuild a tally sent between Locust processes or read from a timeline."""
        tally = cls(**{item.name: int(body.get(item.name, 0)) for item in fields(cls)
                       if item.name not in HISTOGRAMS})
        tally.latencies_ms = Counter({int(ms): int(count) for ms, count
                                      in (body.get("latencies_ms") or {}).items()})
        tally.eta_pairs = Counter({str(pair): int(count) for pair, count
                                   in (body.get("eta_pairs") or {}).items()})
        return tally


class SecondBook:
    """Tallies keyed by epoch second; closed seconds are handed out once, in order."""

    def __init__(self) -> None:
        self.seconds: dict[int, Tally] = {}
        self.closed_before: int | None = None  # every second below this was handed out

    def at(self, epoch_s: float) -> Tally:
        """The tally of the second containing `epoch_s` (late data joins the oldest open one)."""
        second = int(epoch_s)
        if self.closed_before is not None and second < self.closed_before:
            second = self.closed_before
        return self.seconds.setdefault(second, Tally())

    def merge(self, by_second: dict[int, Tally]) -> None:
        """Fold tallies from another process in."""
        for second, tally in by_second.items():
            self.at(second).add(tally)

    def take_before(self, epoch_s: float) -> list[tuple[int, Tally]]:
        """Remove and return, oldest first, every second that ended before `epoch_s`.

        Seconds with no activity in between are returned as empty tallies so a timeline
        has one row per second.
        """
        limit = int(epoch_s)
        keys = sorted(second for second in self.seconds if second < limit)
        if not keys and self.closed_before is None:
            return []
        first = self.closed_before if self.closed_before is not None else keys[0]
        taken = [(second, self.seconds.pop(second, Tally())) for second in range(first, limit)]
        self.closed_before = max(limit, first)
        return taken

    def take_all(self) -> dict[int, Tally]:
        """Remove and return every tally (a worker's report to the master)."""
        taken, self.seconds = self.seconds, {}
        return taken
