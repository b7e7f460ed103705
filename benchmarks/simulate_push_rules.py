"""Push rules side by side on the noisy platform: each rule judged by both of its costs.

For every rule (mark x SLO capacity, margin in deviations, seconds averaged) `peakshop` is
replayed on the shared traces without events, on the platform with in-place resize
(`--max-pod-size 2`) and per-second arrival noise (`--arrival-noise`, 1: Poisson); hpa-cpu and
the oracle on the same platform give the two ratios the goals are stated in (<= 0.25x
hpa-cpu's SLO-violation seconds, <= 1.10x the oracle's replica-seconds). With `--seeds N`
each cell sums N noise seeds (figures and baselines alike). `--setting NAME=VALUE` changes
one of `peakshop`'s `PolicySettings` for every rule (the policy's side of a push);
`--events` replays the traces with their announced events (goals: <= 0.05x, <= 1.08x).

    python -m benchmarks.simulate_push_rules [--arrival-noise D] [--noise-seed N] [--seeds N]
        [--rule AT,SD,MEAN_S[,IN_A_ROW[,LONG_S,LONG_SD]] ...] [--trace NAME ...]
        [--setting NAME=VALUE ...] [--events]
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path

from scaler.events import load_events
from scaler.policy import PolicySettings
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.metrics import measure
from scaler.simulate.run import peakshop_replicas, policy_settings_for, simulate
from scaler.simulate.trace import load_trace

TRACES_DIR = Path(__file__).resolve().parents[1] / "traces"
TRACES = ("season-2023", "season-2024", "flash-sale-10min")
# (push_at, noise_sd, push_mean_s, push_confirm_s, push_long_mean_s, push_long_noise_sd)
RULES = ((0.92, 1.5, 1, 1, 0, 2.0), (0.92, 1.75, 1, 1, 0, 2.0), (0.95, 2.0, 1, 1, 0, 2.0),
         (0.92, 1.75, 1, 1, 5, 2.0), (0.92, 2.0, 1, 1, 10, 2.0))


def parse_rule(text: str) -> tuple[float, float, int, int, int, float]:
    at, sd, mean_s, *more = text.split(",")
    confirm_s, long_s, long_sd = (more + ["1", "0", "2"][len(more):])[:3]
    return float(at), float(sd), int(mean_s), int(confirm_s), int(long_s), float(long_sd)


def parse_setting(text: str) -> tuple[str, float | bool]:
    name, _, value = text.partition("=")
    kinds = {field.name: field.type for field in fields(PolicySettings)}
    if name not in kinds or not value:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use NAME=VALUE with a PolicySettings field ({', '.join(kinds)})")
    if kinds[name] == "bool":
        return name, value.lower() in ("1", "true", "yes")
    return name, (int(value) if kinds[name] == "int" else float(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrival-noise", type=float, default=1.0)
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--max-pod-size", type=float, default=2.0)
    parser.add_argument("--rule", action="append", type=parse_rule,
                        help="push_at,noise_sd,push_mean_s (repeatable)")
    parser.add_argument("--trace", action="append", choices=TRACES)
    parser.add_argument("--seeds", type=int, default=1,
                        help="noise seeds from --noise-seed on; cells sum their figures")
    parser.add_argument("--setting", action="append", type=parse_setting, default=[],
                        help="NAME=VALUE of peakshop's PolicySettings (repeatable)")
    parser.add_argument("--events", action="store_true",
                        help="with each trace's announced events (traces/NAME.events.csv)")
    options = parser.parse_args()
    overrides = dict(options.setting)
    platform = ClusterSettings(max_pod_size=options.max_pod_size,
                               arrival_noise=options.arrival_noise)
    traces = options.trace or TRACES
    print("| push at | margin (sd) | mean of (s) | in a row (s) | longer look | "
          + " | ".join(f"{name}: SLO-violation s, x hpa-cpu, x oracle" for name in traces)
          + " |")
    print("|---:|---:|---:|---:|---|" + "---|" * len(traces))
    loaded = {name: load_trace(TRACES_DIR / f"{name}.csv") for name in traces}
    announced = {name: (load_events(TRACES_DIR / f"{name}.events.csv") if options.events
                        else None) for name in traces}
    seeds = range(options.noise_seed, options.noise_seed + options.seeds)
    baselines = {}
    for name, trace in loaded.items():
        hpa = oracle = 0
        for seed in seeds:
            seeded = replace(platform, noise_seed=seed)
            hpa += simulate("hpa-cpu", trace, seeded).measurement.combined.slo_violation_seconds
            oracle += simulate("oracle", trace, seeded).measurement.combined.replica_seconds
        baselines[name] = (hpa, oracle)
    for at, sd, mean_s, confirm_s, long_s, long_sd in options.rule or RULES:
        cluster = replace(platform, push_at=at, push_noise_sd=sd, push_mean_s=mean_s,
                          push_confirm_s=confirm_s, push_long_mean_s=long_s,
                          push_long_noise_sd=long_sd)
        cells = []
        for name, trace in loaded.items():
            violations = cost = 0
            for seed in seeds:
                seeded = replace(cluster, noise_seed=seed)
                settings = policy_settings_for(seeded, **overrides)
                requested = peakshop_replicas(trace, seeded, announced[name], None, 0,
                                              settings)
                figures = measure(trace, seeded, requested).combined
                violations += figures.slo_violation_seconds
                cost += figures.replica_seconds
            hpa, oracle = baselines[name]
            cells.append(f"{violations:,}, {violations / hpa:.3f}, {cost / oracle:.3f}")
        longer = f"{long_s} s, {long_sd:g} sd" if long_s else "none"
        print(f"| {at} | {sd:g} | {mean_s} | {confirm_s} | {longer} | " + " | ".join(cells)
              + " |", flush=True)


if __name__ == "__main__":
    main()
