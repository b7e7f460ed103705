"""Push rules side by side on the noisy platform: each rule judged by both of its costs.

For every rule (mark x SLO capacity, margin in deviations, seconds averaged) `peakshop` is
replayed on the shared traces without events, on the platform with in-place resize
(`--max-pod-size 2`) and per-second arrival noise (`--arrival-noise`, 1: Poisson); hpa-cpu and
the oracle on the same platform give the two ratios the goals are stated in (<= 0.25x
hpa-cpu's SLO-violation seconds, <= 1.10x the oracle's replica-seconds).

    python -m benchmarks.simulate_push_rules [--arrival-noise D] [--noise-seed N]
                                             [--rule AT,SD,MEAN_S[,IN_A_ROW] ...] [--trace NAME ...]
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
# (push_at, noise_sd, push_mean_s, push_confirm_s): margins, means, seconds in a row
RULES = ((0.95, 2.0, 1, 1), (0.9, 0.0, 1, 1), (0.9, 1.0, 1, 1), (0.9, 2.0, 1, 1),
         (0.9, 2.0, 2, 1), (0.9, 1.0, 1, 2))


def parse_rule(text: str) -> tuple[float, float, int, int]:
    at, sd, mean_s, *confirm_s = text.split(",")
    return float(at), float(sd), int(mean_s), int(confirm_s[0] if confirm_s else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrival-noise", type=float, default=1.0)
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--max-pod-size", type=float, default=2.0)
    parser.add_argument("--rule", action="append", type=parse_rule,
                        help="push_at,noise_sd,push_mean_s (repeatable)")
    parser.add_argument("--trace", action="append", choices=TRACES)
    options = parser.parse_args()
    platform = ClusterSettings(max_pod_size=options.max_pod_size,
                               arrival_noise=options.arrival_noise,
                               noise_seed=options.noise_seed)
    traces = options.trace or TRACES
    print("| push at | margin (sd) | mean of (s) | in a row (s) | "
          + " | ".join(f"{name}: SLO-violation s, x hpa-cpu, x oracle" for name in traces)
          + " |")
    print("|---:|---:|---:|---:|" + "---|" * len(traces))
    loaded = {name: load_trace(TRACES_DIR / f"{name}.csv") for name in traces}
    baselines = {}
    for name, trace in loaded.items():
        hpa = simulate("hpa-cpu", trace, platform).measurement.combined
        oracle = simulate("oracle", trace, platform).measurement.combined
        baselines[name] = (hpa.slo_violation_seconds, oracle.replica_seconds)
    for at, sd, mean_s, confirm_s in options.rule or RULES:
        cluster = replace(platform, push_at=at, push_noise_sd=sd, push_mean_s=mean_s,
                          push_confirm_s=confirm_s)
        cells = []
        for name, trace in loaded.items():
            figures = simulate("peakshop", trace, cluster).measurement.combined
            hpa, oracle = baselines[name]
            cells.append(f"{figures.slo_violation_seconds:,}, "
                         f"{figures.slo_violation_seconds / hpa:.3f}, "
                         f"{figures.replica_seconds / oracle:.3f}")
        print(f"| {at} | {sd:g} | {mean_s} | {confirm_s} | " + " | ".join(cells) + " |",
              flush=True)


if __name__ == "__main__":
    main()
