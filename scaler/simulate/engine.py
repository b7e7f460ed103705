"""Closed-loop replay: a policy decides on delayed observations of the cluster it scales.

Time moves in ticks, the largest step that divides the trace step, the scrape delay, the rate
window, the start-up delay and the policy's period (15 s with the defaults). Within a tick
nothing changes: the rate is held, decisions land on tick boundaries and so do pods becoming
ready, and the order backlog moves linearly. Stepping tick by tick is therefore exactly the
1-second model, 15 times faster than walking every second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from scaler.model import Observation, ScalingDecision
from scaler.simulate.cluster import ClusterSettings, web_demand, worker_demand
from scaler.simulate.trace import Trace


class ClosedLoopPolicy(Protocol):
    """A policy that decides every `period_s` from what it observes."""

    period_s: int

    def initial_state(self, web_replicas: int, worker_replicas: int) -> Any: ...

    def decide(self, observation: Observation, state: Any) -> tuple[ScalingDecision, Any]: ...


@dataclass(frozen=True)
class RequestedReplicas:
    """What a policy asked for, one value per second, and what ran before the trace."""

    web: np.ndarray
    workers: np.ndarray
    initial_web: int
    initial_workers: int


def tick_for(trace: Trace, cluster: ClusterSettings, period_s: int) -> int:
    """The largest time step at which the whole model is piecewise constant."""
    tick = trace.step_s
    for step in (cluster.scrape_s, cluster.rate_window_s, cluster.startup_s, period_s):
        tick = math.gcd(tick, int(step))
    return tick


def settled_start(trace: Trace, cluster: ClusterSettings) -> tuple[int, int]:
    """The cluster before the trace: settled on the first second's demand."""
    web = int(web_demand(trace.rps[:1], cluster)[0])
    workers = int(worker_demand(trace.orders_per_s[:1], cluster)[0])
    bound = lambda n: min(max(n, cluster.min_replicas), cluster.max_replicas)  # noqa: E731
    return bound(web), bound(workers)


def run_closed_loop(trace: Trace, cluster: ClusterSettings, policy: ClosedLoopPolicy,
                    on_observation: Callable[[Observation], None] | None = None
                    ) -> RequestedReplicas:
    """Replay `trace`, letting `policy` decide every period on delayed observations."""
    period_s = int(policy.period_s)
    if period_s < 1:
        raise ValueError(f"a policy period must be at least 1 s: got {period_s}")
    tick = tick_for(trace, cluster, period_s)
    scrape, window, startup = (cluster.scrape_s // tick, cluster.rate_window_s // tick,
                               cluster.startup_s // tick)
    decide_every = period_s // tick
    blocks = trace.duration_s // tick
    repeat = trace.step_s // tick
    # Blocks before the trace hold the first values: the cluster was settled on them.
    pre = startup + scrape + window + 2
    rps = np.repeat(trace.rps, repeat)
    orders = np.repeat(trace.orders_per_s, repeat)
    rps_padded = np.concatenate([np.full(pre, rps[0]), rps])
    orders_padded = np.concatenate([np.full(pre, orders[0]), orders])
    demand = web_demand(rps_padded, cluster).tolist()

    # Observed rates for a decision at block k: the window of blocks [k-scrape-window, k-scrape).
    def observed_mean(values: np.ndarray) -> list[float]:
        summed = np.concatenate([[0.0], np.cumsum(values)])
        ends = np.arange(blocks) + pre - scrape
        return ((summed[ends] - summed[ends - window]) / window).tolist()

    rate_seen, orders_seen = observed_mean(rps_padded), observed_mean(orders_padded)
    rps_list, orders_list = rps_padded.tolist(), orders_padded.tolist()

    web0, workers0 = settled_start(trace, cluster)
    state = policy.initial_state(web0, workers0)
    web_requested, web_ready = [web0] * pre, [web0] * pre
    workers_requested, workers_ready = [workers0] * pre, [workers0] * pre
    backlog = [0.0] * pre
    # Requests arriving while too few pods are ready, per block: what pushes p95 over the SLO.
    web_short = [rps_list[i] if web0 < demand[i] else 0.0 for i in range(pre)]
    low, high = cluster.min_replicas, cluster.max_replicas
    per_worker, pod_max = cluster.worker_orders_per_s, cluster.pod_max_rps
    slo_share = cluster.p95_share * window
    age_s = float(cluster.scrape_s)
    web_now, workers_now = web0, workers0
    web_changed = workers_changed = 0       # the last block whose requested count changed
    decide, make_observation = policy.decide, Observation

    for block in range(blocks):
        i = block + pre
        if block % decide_every == 0:
            seen = i - scrape - 1            # the last block the scrape covers
            rate = rate_seen[block]
            ready_web, ready_workers = web_ready[seen], workers_ready[seen]
            waiting = backlog[seen]
            observation = make_observation(
                float(block * tick), rate, None, sum(web_short[seen - window + 1 : seen + 1])
                <= slo_share * rate, min(1.0, rate / (ready_web * pod_max)), round(waiting),
                waiting / (ready_workers * per_worker), orders_seen[block], ready_web,
                web_requested[seen], ready_workers, workers_requested[seen], age_s)
            if on_observation is not None:
                on_observation(observation)
            decision, state = decide(observation, state)
            asked = min(max(decision.web.replicas, low), high)
            if asked != web_now:
                web_now, web_changed = asked, i
            asked = min(max(decision.workers.replicas, low), high)
            if asked != workers_now:
                workers_now, workers_changed = asked, i
        web_requested.append(web_now)
        workers_requested.append(workers_now)
        # Ready = the lowest count asked for over the start-up delay (unready pods go first);
        # a count unchanged for that long is simply ready.
        ready = (web_now if i - web_changed >= startup
                 else min(web_requested[i - startup : i + 1]))
        web_ready.append(ready)
        web_short.append(rps_list[i] if ready < demand[i] else 0.0)
        ready = (workers_now if i - workers_changed >= startup
                 else min(workers_requested[i - startup : i + 1]))
        workers_ready.append(ready)
        waiting = backlog[i - 1] + tick * (orders_list[i] - ready * per_worker)
        backlog.append(waiting if waiting > 0.0 else 0.0)

    return RequestedReplicas(
        web=np.repeat(np.array(web_requested[pre:], dtype=np.int64), tick),
        workers=np.repeat(np.array(workers_requested[pre:], dtype=np.int64), tick),
        initial_web=web0,
        initial_workers=workers0,
    )
