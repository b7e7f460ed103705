"""Push rules side by side on the noisy platform: each rule judged by both of its costs.

For every rule (mark x SLO capacity, margin in deviations, seconds averaged) `peakshop` is
replayed on the shared traces without events, on the platform with in-place resize
(`--max-pod-size 2`) and per-second arrival noise (`--arrival-noise`, 1: Poisson); hpa-cpu and
the oracle on the same platform give the two ratios the goals are stated in (<= 0.25x
hpa-cpu's SLO-violation seconds, <= 1.10x the oracle's replica-seconds). With `--seeds N`
each cell sums N noise seeds (figures and baselines alike).

    python -m benchmarks.simulate_push_rules [--arrival-noise D] [--noise-seed N] [--seeds N]
        [--rule AT,SD,MEAN_S[,IN_A_ROW[,LONG_S,LONG_SD]] ...] [--trace NAME ...]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.run import simulate
from scaler.simulate.trace import load_trace

TRACES_DIR = Path(__file__).resolve().parents[1] / "traces"
TRACES = ("season-2023", "season-2024", "flash-sale-10min")
# (push_at, noise_sd, push_mean_s, push_confirm_s, push_long_mean_s, push_long_noise_sd)
RULES = ((0.92, 1.75, 1, 1, 0, 2.0), (0.95, 2.0, 1, 1, 0, 2.0),
         (0.92, 1.75, 1, 1, 5, 2.0), (0.92, 2.0, 1, 1, 10, 2.0))


def parse_rule(text: str) -> tuple[float, float, int, int, int, float]:
    at, sd, mean_s, *more = text.split(",")
    confirm_s, long_s, long_sd = (more + ["1", "0", "2"][len(more):])[:3]
    return float(at), float(sd), int(mean_s), int(confirm_s), int(long_s), float(long_sd)


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
    options = parser.parse_args()
    platform = ClusterSettings(max_pod_size=options.max_pod_size,
                               arrival_noise=options.arrival_noise)
    traces = options.trace or TRACES
    print("| push at | margin (sd) | mean of (s) | in a row (s) | longer look | "
          + " | ".join(f"{name}: SLO-violation s, x hpa-cpu, x oracle" for name in traces)
          + " |")
    print("|---:|---:|---:|---:|---|" + "---|" * len(traces))
    loaded = {name: load_trace(TRACES_DIR / f"{name}.csv") for name in traces}
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
                figures = simulate("peakshop", trace, replace(cluster, noise_seed=seed)
                                   ).measurement.combined
                violations += figures.slo_violation_seconds
                cost += figures.replica_seconds
            hpa, oracle = baselines[name]
            cells.append(f"{violations:,}, {violations / hpa:.3f}, {cost / oracle:.3f}")
        longer = f"{long_s} s, {long_sd:g} sd" if long_s else "none"
        print(f"| {at} | {sd:g} | {mean_s} | {confirm_s} | {longer} | " + " | ".join(cells)
              + " |", flush=True)


if __name__ == "__main__":
    main()
