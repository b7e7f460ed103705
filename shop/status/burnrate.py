"""Multi-window, multi-burn-rate alerting on the SLOs (Google SRE workbook, chapter 5).

The burn rate is how fast the error budget is spent: the error ratio divided by the budget
(1 - objective). A rule fires when both its long window (is this significant?) and its short
window (is it still happening?) burn faster than its factor; the last five minutes decide
when an open incident has recovered (see `evaluate`). Pure: counts in, a `Decision` out, no
side effects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shop.status.components import Component, ComponentStatus


@dataclass(frozen=True)
class Window:
    good: int = 0
    bad: int = 0

    @property
    def total(self) -> int:
        return self.good + self.bad

    @property
    def error_ratio(self) -> float:
        return self.bad / self.total if self.total else 0.0


@dataclass(frozen=True)
class BurnRule:
    long_window_s: int
    short_window_s: int
    factor: float


# The workbook's paging rules for a 30-day SLO: 2 % of the budget gone in an hour, 5 % in six.
RULES: tuple[BurnRule, ...] = (
    BurnRule(long_window_s=3600, short_window_s=300, factor=14.4),
    BurnRule(long_window_s=6 * 3600, short_window_s=1800, factor=6.0),
)
# Availability objectives: money paths are held to more nines than browsing and mail.
OBJECTIVES: Mapping[Component, float] = {
    Component.STOREFRONT: 0.995,
    Component.CHECKOUT: 0.999,
    Component.PAYMENTS: 0.999,
    Component.ORDER_PROCESSING: 0.999,
    Component.EMAIL: 0.99,
}
# Below this many events in a short window, one failed request would page the team at night.
MIN_EVENTS = 20
# Half of all requests failing is not "degraded" any more.
OUTAGE_ERROR_RATIO = 0.5
# An open incident resolves once the last minutes burn under this share of the slowest rule.
RESOLVE_BELOW_SHARE = 0.5


class Verdict(StrEnum):
    OPEN = "open"  # burning, no incident yet
    KEEP = "keep"  # still failing, incident already open
    RESOLVE = "resolve"  # incident open, the last minutes show recovery
    QUIET = "quiet"  # nothing burning, nothing open
    UNSURE = "unsure"  # incident open, too little traffic to tell: leave it as it is


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    impact: ComponentStatus = ComponentStatus.OPERATIONAL
    burn_rate: float = 0.0  # of the fastest rule's short window


def windows_needed(rules: Sequence[BurnRule] = RULES) -> list[int]:
    return sorted({s for rule in rules for s in (rule.long_window_s, rule.short_window_s)})


def burn_rate(window: Window, objective: float) -> float:
    return window.error_ratio / (1.0 - objective)


def fires(rule: BurnRule, counts: Mapping[int, Window], objective: float) -> bool:
    short, long = counts[rule.short_window_s], counts[rule.long_window_s]
    return (short.total >= MIN_EVENTS
            and burn_rate(short, objective) >= rule.factor
            and burn_rate(long, objective) >= rule.factor)


def evaluate(counts: Mapping[int, Window], objective: float, incident_open: bool,
             rules: Sequence[BurnRule] = RULES) -> Decision:
    """What to do about one component, from its good/bad counts per window (seconds ->
    Window); no side effects.

    The rules decide when to open; the last minutes (the fastest rule's short window) decide
    whether the problem is happening now. An incident opens only while it is, and resolves
    once those minutes burn under half the slowest rule's rate: after a total outage the
    6 h / 30 min rule keeps firing for half an hour (its 30 minutes still hold the failures),
    and customers would read "outage" on the status page for half an hour after checkout
    works again; nor is it reopened meanwhile. The half is the hysteresis that keeps a slow
    burn near the rule's rate from opening and resolving at every evaluation."""
    fastest_short = counts[min(rules, key=lambda r: r.short_window_s).short_window_s]
    rate = burn_rate(fastest_short, objective)
    slowest_factor = min(rule.factor for rule in rules)
    impact = (ComponentStatus.OUTAGE if fastest_short.error_ratio >= OUTAGE_ERROR_RATIO
              else ComponentStatus.DEGRADED)
    if incident_open:
        if fastest_short.total < MIN_EVENTS:
            return Decision(Verdict.UNSURE, burn_rate=rate)
        if rate < slowest_factor * RESOLVE_BELOW_SHARE:
            return Decision(Verdict.RESOLVE, burn_rate=rate)
        return Decision(Verdict.KEEP, impact, rate)
    if rate >= slowest_factor and any(fires(rule, counts, objective) for rule in rules):
        return Decision(Verdict.OPEN, impact, rate)
    return Decision(Verdict.QUIET, burn_rate=rate)
