"""How long `peakshop scaler simulate` takes per policy on each published season.

A season is 139,680 minutes (8.4 million simulated seconds) and must replay in under 5 s per
policy. Prints wall-clock and CPU seconds per policy and season and the share of the budget.

    python benchmarks/simulate.py [--traces DIR] [--no-events] [--policy NAME ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaler.events import load_events  # noqa: E402
from scaler.simulate.cluster import ClusterSettings  # noqa: E402
from scaler.simulate.run import POLICY_NAMES, simulate  # noqa: E402
from scaler.simulate.trace import load_trace  # noqa: E402

BUDGET_S = 5.0
SEASONS = ("season-2023", "season-2024")


TRACES_DIR = Path(__file__).resolve().parents[1] / "traces"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=TRACES_DIR)
    parser.add_argument("--no-events", action="store_true", help="replay without the events")
    parser.add_argument("--policy", action="append", choices=POLICY_NAMES,
                        help="only these policies (repeatable)")
    options = parser.parse_args()
    traces = options.traces
    cluster = ClusterSettings()
    policies = options.policy or list(POLICY_NAMES)
    rows = []
    for season in SEASONS:
        started = time.perf_counter()
        trace = load_trace(traces / f"{season}.csv")
        events = None if options.no_events else load_events(traces / f"{season}.events.csv")
        print(f"{season}: loaded in {time.perf_counter() - started:.2f} s", file=sys.stderr)
        for policy in policies:
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            run = simulate(policy, trace, cluster, events)
            wall, cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started
            rows.append((policy, season, wall, cpu, run.measurement.combined))
            print(f"  {policy:12s} {wall:6.2f} s", file=sys.stderr)
    print(f"\n{'policy':12s} {'season':12s} {'wall s':>8s} {'cpu s':>8s} {'/ 5 s':>8s} "
          f"{'violation s':>12s} {'replica s':>14s}")
    for policy, season, wall, cpu, figures in rows:
        print(f"{policy:12s} {season:12s} {wall:8.2f} {cpu:8.2f} {wall / BUDGET_S:8.2f} "
              f"{figures.slo_violation_seconds:12,d} {figures.replica_seconds:14,d}")
    worst = max(rows, key=lambda row: row[2])
    print(f"\nslowest: {worst[0]} on {worst[1]}, {worst[2]:.2f} s = "
          f"{worst[2] / BUDGET_S:.0%} of the {BUDGET_S:.0f} s budget; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
