"""How often a steady load makes the busy-worker push fire, with and without its noise
margin: a model, not a measurement of pods.

Sync gunicorn workers (two a pod, 40 requests/s saturate a pod, so 50 ms a request) serve
Poisson arrivals spread over the ready pods at random; every 50 ms the busy workers are
counted, and each second their mean goes through the scaler's own rule
(`scaler.signals.push.judge_sample`), as a pod publishes it. A steady load below the mark
should never push; the count per hour is what noise alone sends.

    python -m benchmarks.push_noise [--hours H] [--seed N]
"""

from __future__ import annotations

import argparse
import bisect
import random

from scaler.signals.push import Pressure, PushRule, judge_sample

POD_MAX_RPS, WORKERS, SAMPLES_PER_S = 40.0, 2, 20


def busy_shares(load: float, pods: int, seconds: int, seed: int) -> list[float]:
    """Each second's mean busy share of the workers, `load` being x the SLO capacity."""
    rng = random.Random(seed)
    service = WORKERS / POD_MAX_RPS
    arrivals = load * 0.8 * POD_MAX_RPS * pods
    free_at = [[0.0] * WORKERS for _ in range(pods)]
    starts, ends, now = [], [], 0.0
    while now < seconds:
        now += rng.expovariate(arrivals)
        pod = free_at[rng.randrange(pods)]
        worker = min(range(WORKERS), key=pod.__getitem__)
        start = max(now, pod[worker])
        pod[worker] = start + service
        starts.append(start)
        ends.append(start + service)
    starts.sort()
    ends.sort()
    shares = []
    for second in range(seconds):
        busy = 0
        for k in range(SAMPLES_PER_S):
            at = second + k / SAMPLES_PER_S
            busy += bisect.bisect_right(starts, at) - bisect.bisect_right(ends, at)
        shares.append(min(1.0, busy / SAMPLES_PER_S / (pods * WORKERS)))
    return shares


def pushes(shares: list[float], pods: int, noise_sd: float) -> int:
    rule = PushRule(POD_MAX_RPS, noise_sd=noise_sd)
    previous, pushed_low, count = None, None, 0
    for second, share in enumerate(shares):
        current = Pressure(0, share)
        verdict = judge_sample(previous, float(second), current, pods, rule, pushed_low)
        pushed_low = verdict.pushed_low
        count += verdict.rate is not None
        previous = (float(second), current)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    seconds = int(options.hours * 3600)
    print("| steady load (x SLO capacity) | ready pods | pushes an hour, no margin "
          "| margin 1 | margin 2 |")
    print("|---|---:|---:|---:|---:|")
    for pods, load in ((2, 0.81), (2, 0.87), (10, 0.81), (10, 0.87), (40, 0.87)):
        shares = busy_shares(load, pods, seconds, options.seed)
        counts = [round(pushes(shares, pods, sd) / options.hours) for sd in (0.0, 1.0, 2.0)]
        print(f"| {load} | {pods} | " + " | ".join(str(c) for c in counts) + " |")


if __name__ == "__main__":
    main()
