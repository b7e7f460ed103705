"""How often a steady load makes the busy-worker push fire, with and without its noise
margin: a model, not a measurement of pods.

Sync gunicorn workers (two a pod, 40 requests/s saturate a pod, so 50 ms a request) serve
Poisson arrivals spread over the ready pods at random; every 50 ms the busy workers are
counted, and each second their mean goes through the scaler's own rule
(`scaler.signals.push.judge_sample`), as a pod publishes it. A steady load below the mark
should never push; the count per hour is what noise alone sends.

With `--cost`, what those pushes cost: the peakshop policy (levers on: push and 2x resize)
decides on a steady arrival rate, scraped every 15 s without noise, while the pushes come
from each second's noisy busy share (arrivals drawn per second, normal approximation of
Poisson, over the capacity ready then); new pods serve after 45 s, a resize after 5 s. The
replica-seconds are compared with no push at all (which a steady rate does not need).

    python -m benchmarks.push_noise [--hours H] [--seed N] [--cost [--window S]]
"""

from __future__ import annotations

import argparse
import bisect
import collections
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


# (mark x SLO capacity, margin in deviations): the simulator's noiseless rule, margins, the
# rule live before, the live rule (docs/simulation.md, "The push rule, chosen on the noisy
# platform")
RULES = ((0.9, 0.0), (0.9, 1.0), (0.9, 2.0), (0.95, 2.0), (0.92, 1.75), (0.92, 1.5))


def pushes(shares: list[float], pods: int, push_at: float, noise_sd: float) -> int:
    rule = PushRule(POD_MAX_RPS, push_at=push_at, noise_sd=noise_sd)
    previous, pushed_low, count = None, None, 0
    for second, share in enumerate(shares):
        current = Pressure(0, share)
        verdict = judge_sample(previous, float(second), current, pods, rule, pushed_low)
        pushed_low = verdict.pushed_low
        count += verdict.rate is not None
        previous = (float(second), current)
    return count


def replica_cost(rate: float, noise_sd: float | None, seconds: int, seed: int,
                 push_at: float = 0.9, window_s: int = 1) -> float:
    """Mean replica-seconds per second (pods x in-pod size) the policy keeps for a steady
    `rate`; `noise_sd` None: no push at all."""
    from scaler.capacity import Bounds, Capacity
    from scaler.model import Observation
    from scaler.policy import PeakshopPolicy, PolicySettings

    rng = random.Random(seed)
    capacity = Capacity()
    policy = PeakshopPolicy(PolicySettings.for_capacity(capacity, Bounds(2, 200),
                                                        max_pod_size=2.0))
    rule = PushRule(POD_MAX_RPS, push_at=push_at, noise_sd=noise_sd or 0.0,
                    window_s=window_s)
    recent: collections.deque[float] = collections.deque(maxlen=window_s)
    pods = max(2, -(-rate // (0.9 * capacity.pod_slo_rps)))
    asked = [(0, int(pods), 1.0)]            # (second, replicas, size) as decided
    state = policy.initial_state(int(pods), 2)
    previous, pushed_low, cost = None, None, 0.0

    def lowest_since(since: int, index: int) -> float:
        """The lowest value (replicas or size) asked for from `since` on, counting the one
        in effect then: pods take start-up to serve, a raise of size takes resize."""
        in_effect = [entry for entry in asked if entry[0] <= since][-1:] or asked[:1]
        return min(entry[index] for entry in in_effect + [e for e in asked if e[0] > since])

    def ready_at(second: int) -> tuple[int, float]:
        return int(lowest_since(second - 45, 1)), lowest_since(second - 5, 2)

    for second in range(seconds):
        ready, size = ready_at(second)
        requested, asked_size = asked[-1][1], asked[-1][2]
        cost += requested * asked_size
        observation = Observation(
            at_s=float(second), request_rate=rate, latency_p95_s=None,
            latency_within_slo=rate <= ready * size * capacity.pod_slo_rps,
            cpu_utilization=min(1.0, rate / (ready * size * POD_MAX_RPS)), queue_backlog=0,
            queue_oldest_age_s=0.0, orders_rate=1.0, web_ready=ready,
            web_requested=requested, workers_ready=2, workers_requested=2, age_s=15.0)
        decision = None
        if second % 15 == 0:
            decision, state = policy.decide(observation, state)
        elif noise_sd is not None:
            recent.append(max(0.0, rng.gauss(rate, rate ** 0.5)))
            arrivals = sum(recent) / len(recent)
            current = Pressure(0, min(1.0, arrivals / (ready * size * POD_MAX_RPS)))
            verdict = judge_sample(previous, float(second), current, ready, rule, pushed_low)
            pushed_low, previous = verdict.pushed_low, (float(second), current)
            if verdict.rate is not None:
                pushed = observation._replace(request_rate=verdict.rate * size, pushed=True,
                                              latency_within_slo=False, cpu_utilization=1.0,
                                              age_s=0.0)
                decision, state = policy.decide(pushed, state)
        if decision is not None and (decision.web.replicas, decision.web.size) != (
                requested, asked_size):
            asked.append((second, max(2, decision.web.replicas),
                          min(2.0, max(1.0, decision.web.size))))
            del asked[:-200]
    return cost / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, default=1,
                        help="seconds the pods average busy workers over (--cost)")
    parser.add_argument("--cost", action="store_true",
                        help="what the pushes cost the peakshop policy, in replica-seconds")
    options = parser.parse_args()
    seconds = int(options.hours * 3600)
    rules = " | ".join(f"{at} margin {sd:g}" for at, sd in RULES)
    if options.cost:
        print(f"| steady rate (/s) | x SLO capacity of its pods | no push | {rules} |")
        print("|---:|---:|---:" + "|---:" * len(RULES) + "|")
        for rate in (52.0, 57.6, 250.0, 288.0, 1000.0, 1152.0):
            base = replica_cost(rate, None, seconds, options.seed)
            costs = [replica_cost(rate, sd, seconds, options.seed, at, options.window)
                     for at, sd in RULES]
            pods = max(2, -(-rate // 28.8))
            print(f"| {rate:g} | {rate / (pods * 32):.2f} of {pods:.0f} | {base:.2f} | "
                  + " | ".join(f"{c:.2f} ({c / base - 1:+.0%})" for c in costs) + " |")
        return
    print(f"| steady load (x SLO capacity) | ready pods | {rules} |")
    print("|---|---:" + "|---:" * len(RULES) + "|")
    for pods, load in ((2, 0.81), (2, 0.87), (10, 0.81), (10, 0.87), (40, 0.87)):
        shares = busy_shares(load, pods, seconds, options.seed)
        counts = [round(pushes(shares, pods, at, sd) / options.hours) for at, sd in RULES]
        print(f"| {load} | {pods} | " + " | ".join(str(c) for c in counts) + " |")


if __name__ == "__main__":
    main()
