"""Signal faults: scrapes that are lost or late, and outages that leave the signals stale.

Live signals fail: a storefront pod restarts, Prometheus is slow, Redis answers late. The
simulator makes the same happen on a seeded schedule, identical for every policy, so the path a
policy takes without its signals is judged like the rest. Per scrape (every scrape_s):

- with probability signal_faults / 3 each: the traffic reading is missing (rate, p95, CPU),
  the queue reading is missing (backlog, oldest age, order rate), or the whole reading is one
  scrape late (older values, twice the age);
- outages: on average outages_per_day times a day, the traffic signal is gone for outage_s
  (its age grows past any staleness limit: the stale path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OK, TRAFFIC_MISSING, QUEUE_MISSING, LATE, OUTAGE = range(5)


@dataclass(frozen=True)
class FaultPlan:
    """Fault codes per scrape, and when each traffic outage began."""

    scrape_s: int
    codes: np.ndarray            # one code per scrape interval
    outage_started_s: np.ndarray  # per scrape: start of the outage it is in (or -1)

    def code_at(self, at_s: float) -> int:
        """The fault of the reading a policy sees at `at_s` (OK when none)."""
        if not self.scrape_s:
            return OK
        index = int(at_s // self.scrape_s)
        return int(self.codes[index]) if 0 <= index < len(self.codes) else OK

    def codes_at(self, at_s: np.ndarray) -> np.ndarray:
        """`code_at` for many moments at once."""
        if not self.scrape_s:
            return np.zeros(len(at_s), dtype=np.int8)
        index = np.asarray(at_s) // self.scrape_s
        inside = (index >= 0) & (index < len(self.codes))
        return np.where(inside, self.codes[np.clip(index, 0, len(self.codes) - 1)], OK)

    def traffic_age_at(self, at_s: float) -> float:
        """Seconds since the traffic signal was last read, as of `at_s` within a fault."""
        if not self.scrape_s:
            return 0.0
        index = int(at_s // self.scrape_s)
        started = (float(self.outage_started_s[index])
                   if 0 <= index < len(self.outage_started_s) else -1.0)
        if started < 0:
            return 2.0 * self.scrape_s
        return at_s - started + self.scrape_s


NO_FAULTS = FaultPlan(0, np.zeros(0, dtype=np.int8), np.zeros(0))


def plan_faults(duration_s: int, cluster) -> FaultPlan:
    """The seeded fault schedule of a run of `duration_s` on `cluster` (ClusterSettings)."""
    scrape_s = int(cluster.scrape_s)
    if not scrape_s or (not cluster.signal_faults and not cluster.outages_per_day):
        return NO_FAULTS
    scrapes = duration_s // scrape_s + 2
    generator = np.random.default_rng(cluster.fault_seed)
    draws = generator.random(scrapes)
    share = cluster.signal_faults / 3
    codes = np.zeros(scrapes, dtype=np.int8)
    codes[draws < 3 * share] = LATE
    codes[draws < 2 * share] = QUEUE_MISSING
    codes[draws < share] = TRAFFIC_MISSING
    started = np.full(scrapes, -1.0)
    per_scrape = cluster.outages_per_day * scrape_s / 86400
    length = max(1, cluster.outage_s // scrape_s)
    for first in np.flatnonzero(generator.random(scrapes) < per_scrape):
        codes[first : first + length] = OUTAGE
        started[first : first + length] = first * scrape_s
    return FaultPlan(scrape_s, codes, started)
