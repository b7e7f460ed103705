"""The simulator-only reference points: `static-peak` and `oracle` read the whole trace (the
oracle even its future), so they can never run live. The closed-loop baselines (`hpa-cpu`,
`keda-queue`) live in `scaler.policy.baselines`.
"""

from __future__ import annotations

import math

import numpy as np

from scaler.simulate.cluster import (
    ClusterSettings,
    clamp_to_bounds,
    demand_ahead,
    web_demand,
    worker_demand,
)
from scaler.simulate.engine import BlockSeries, RequestedReplicas
from scaler.simulate.trace import Trace


def static_peak_plan(trace: Trace, cluster: ClusterSettings) -> RequestedReplicas:
    """`static-peak`: the season's peak demand, requested (and ready) all the time."""
    web = int(clamp_to_bounds(web_demand(trace.rps, cluster).max(), cluster))
    workers = int(clamp_to_bounds(worker_demand(trace.orders_per_s, cluster).max(), cluster))
    steps = len(trace.rps)
    return RequestedReplicas(BlockSeries(np.full(steps, web), trace.step_s, [], np.int64),
                             BlockSeries(np.full(steps, workers), trace.step_s, [], np.int64),
                             web, workers)


def oracle_plan(trace: Trace, cluster: ClusterSettings) -> RequestedReplicas:
    """`oracle`: every second, the highest demand of the next startup_s seconds.

    That is the least a cluster whose pods take startup_s to become ready can ask for and
    still never miss: the floor any policy can reach. Demand only changes between trace
    steps, so the plan is made in blocks of gcd(step, startup_s) seconds, exactly.
    """
    block_s = math.gcd(trace.step_s, cluster.startup_s)
    plans = []
    for demand in (web_demand(trace.rps, cluster), worker_demand(trace.orders_per_s, cluster)):
        blocks = np.repeat(demand, trace.step_s // block_s)
        ahead = demand_ahead(blocks, cluster.startup_s // block_s)
        plans.append(BlockSeries(clamp_to_bounds(ahead, cluster), block_s, [], np.int64))
    web, workers = plans
    return RequestedReplicas(web, workers, int(web.blocks[0]), int(workers.blocks[0]))
