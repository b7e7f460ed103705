"""Every policy on every trace in traces/, with and without the announced events: the figures
docs/simulation.md quotes, and how long each replay took (wall and CPU seconds).

A season is 139,680 minutes (8.4 million simulated seconds); the budget is 5 s per season per
policy. The machine this runs on may be shared: CPU seconds say more than wall seconds then.

    python -m benchmarks.simulate [--traces DIR] [--trace NAME ...] [--policy NAME ...]
                                  [--no-push] [--max-pod-size N]   # the live platform: 1
                                  [--push-at SHARE] [--push-noise-sd N]   # live: 2
                                  [--push-mean-s S] [--push-confirm-s S]
                                  [--arrival-noise D] [--noise-seed N]
                                  [--no-forecast]   # peakshop without what the past says
                                  [--waiting-room [--room-react-s S] [--room-answers-hidden]]
                                  # each policy without and with the room, side by side
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from scaler.events import load_events
from scaler.policy import PeakshopPolicy
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.engine import run_closed_loop
from scaler.simulate.metrics import measure
from scaler.simulate.run import POLICY_NAMES, policy_settings_for, simulate
from scaler.simulate.trace import load_trace

BUDGET_S = 5.0
TRACES_DIR = Path(__file__).resolve().parents[1] / "traces"
TRACES = ("season-2023", "season-2024", "flash-sale-10min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=TRACES_DIR)
    parser.add_argument("--trace", action="append", choices=TRACES,
                        help="only these traces (repeatable)")
    parser.add_argument("--policy", action="append", choices=POLICY_NAMES,
                        help="only these policies (repeatable)")
    parser.add_argument("--no-push", action="store_true",
                        help="no pushed listen backlog (as live today)")
    parser.add_argument("--max-pod-size", type=float, default=ClusterSettings().max_pod_size,
                        help="in-pod capacity a pod can grow to (1: no in-place resize)")
    parser.add_argument("--push-at", type=float, default=ClusterSettings().push_at,
                        help="arrivals over SLO capacity that send a push (the local "
                             "listen backlog grows at saturation: 1.25)")
    parser.add_argument("--push-noise-sd", type=float,
                        default=ClusterSettings().push_noise_sd,
                        help="margin past --push-at in sqrt(arrivals/s), as the live push "
                             "(2) keeps against a second's noise")
    parser.add_argument("--push-mean-s", type=int, default=ClusterSettings().push_mean_s,
                        help="seconds of arrivals the push judges the mean of")
    parser.add_argument("--push-confirm-s", type=int,
                        default=ClusterSettings().push_confirm_s,
                        help="seconds in a row that mean must pass the threshold")
    parser.add_argument("--arrival-noise", type=float,
                        default=ClusterSettings().arrival_noise,
                        help="a second's arrivals vary with this variance-to-mean ratio "
                             "(1: Poisson, as live; 0: steady rates)")
    parser.add_argument("--noise-seed", type=int, default=ClusterSettings().noise_seed)
    parser.add_argument("--no-forecast", action="store_true",
                        help="peakshop without a forecaster: no forecast, no standby, events "
                             "sized on the calm rate only (what the forecast is worth)")
    parser.add_argument("--waiting-room", action="store_true",
                        help="each policy without and with the waiting room, side by side, "
                             "with the line's figures")
    parser.add_argument("--room-react-s", type=int, default=ClusterSettings().room_react_s,
                        help="seconds an overload that starts with no line misses the SLO")
    parser.add_argument("--room-answers-hidden", action="store_true",
                        help="the scraped rate leaves out the room's own answers (live "
                             "counts them)")
    options = parser.parse_args()
    if options.waiting_room:
        return with_and_without_room(options)
    cluster = cluster_settings(options)
    policies = options.policy or list(POLICY_NAMES)
    print("| trace | events | policy | SLO-violation s | x hpa-cpu | replica-s | x oracle "
          "| wall s | CPU s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    slowest = (0.0, "")
    for name in options.trace or TRACES:
        trace = load_trace(options.traces / f"{name}.csv")
        announced = load_events(options.traces / f"{name}.events.csv")
        for events in (None, announced):
            rows = {}
            for policy in dict.fromkeys(["hpa-cpu", "oracle", *policies]):
                cpu, wall = time.process_time(), time.perf_counter()
                if policy == "peakshop" and options.no_forecast:
                    unforecast = PeakshopPolicy(policy_settings_for(cluster), events=events)
                    figures = measure(trace, cluster,
                                      run_closed_loop(trace, cluster, unforecast)).combined
                else:
                    figures = simulate(policy, trace, cluster, events).measurement.combined
                rows[policy] = (figures, time.perf_counter() - wall, time.process_time() - cpu)
            hpa, oracle = rows["hpa-cpu"][0], rows["oracle"][0]
            for policy in policies:
                figures, wall, cpu = rows[policy]
                versus_hpa = (figures.slo_violation_seconds / hpa.slo_violation_seconds
                              if hpa.slo_violation_seconds else float("nan"))
                print(f"| {name} | {'yes' if events else 'no'} | {policy} "
                      f"| {figures.slo_violation_seconds:,} | {versus_hpa:.3f} "
                      f"| {figures.replica_seconds:,} "
                      f"| {figures.replica_seconds / oracle.replica_seconds:.3f} "
                      f"| {wall:.2f} | {cpu:.2f} |", flush=True)
                if name.startswith("season") and wall > slowest[0]:
                    slowest = (wall, f"{policy} on {name}")
    if slowest[1]:
        print(f"\nslowest season replay: {slowest[1]}, {slowest[0]:.2f} s wall "
              f"({slowest[0] / BUDGET_S:.0%} of the {BUDGET_S:.0f} s budget); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)


def cluster_settings(options) -> ClusterSettings:
    """The simulated platform the flags describe (without the waiting room)."""
    return ClusterSettings(push=not options.no_push, max_pod_size=options.max_pod_size,
                           push_at=options.push_at, push_noise_sd=options.push_noise_sd,
                           push_mean_s=options.push_mean_s,
                           push_confirm_s=options.push_confirm_s,
                           arrival_noise=options.arrival_noise, noise_seed=options.noise_seed)


def with_and_without_room(options) -> None:
    """Every policy without and with the waiting room: violation and replica seconds of
    both, and what the line cost (scaler/simulate/room.py)."""
    without = cluster_settings(options)
    room = replace(without, waiting_room=True, room_react_s=options.room_react_s,
                   room_answers_counted=not options.room_answers_hidden)
    policies = options.policy or list(POLICY_NAMES)
    print("| trace | events | policy | SLO-violation s without | with the room | replica-s "
          "without | with | x oracle with | visitors waited | visitor-s waited | longest "
          "wait s | p90 wait s | CPU s with |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in options.trace or TRACES:
        trace = load_trace(options.traces / f"{name}.csv")
        announced = load_events(options.traces / f"{name}.events.csv")
        for events in (None, announced):
            oracle = simulate("oracle", trace, room, events).measurement.combined
            for policy in policies:
                before = simulate(policy, trace, without, events).measurement.combined
                cpu = time.process_time()
                run = simulate(policy, trace, room, events).measurement
                cpu = time.process_time() - cpu
                after, line = run.combined, run.room
                print(f"| {name} | {'yes' if events else 'no'} | {policy} "
                      f"| {before.slo_violation_seconds:,} | {after.slo_violation_seconds:,} "
                      f"| {before.replica_seconds:,} | {after.replica_seconds:,} "
                      f"| {after.replica_seconds / oracle.replica_seconds:.3f} "
                      f"| {line.visitors_waited:,} | {line.visitor_seconds_waited:,} "
                      f"| {line.longest_wait_s:,} | {line.p90_wait_s:,} | {cpu:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
