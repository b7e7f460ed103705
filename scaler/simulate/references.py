"""The simulator-only reference points: `static-peak` and `oracle` read the whole trace (the
oracle even its future), so they can never run live. The closed-loop baselines (`hpa-cpu`,
`keda-queue`) live in `scaler.policy.baselines`.
"""

from __future__ import annotations

import numpy as np

from scaler.simulate.cluster import (
    ClusterSettings,
    clamp_to_bounds,
    demand_ahead,
    web_demand,
    worker_demand,
)
from scaler.simulate.engine import RequestedReplicas
from scaler.simulate.trace import Trace


def static_peak_plan(trace: Trace, cluster: ClusterSettings) -> RequestedReplicas:
    """`static-peak`: the season's peak demand, requested (and ready) all the time."""
    web = int(clamp_to_bounds(web_demand(trace.rps, cluster).max(), cluster))
    workers = int(clamp_to_bounds(worker_demand(trace.orders_per_s, cluster).max(), cluster))
    seconds = trace.duration_s
    return RequestedReplicas(np.full(seconds, web, dtype=np.int64),
                             np.full(seconds, workers, dtype=np.int64), web, workers)


def oracle_plan(trace: Trace, cluster: ClusterSettings) -> RequestedReplicas:
    """`oracle`: every second, the highest demand of the next startup_s seconds.

    That is the least a cluster whose pods take startup_s to become ready can ask for and
    still never miss: the floor any policy can reach.
    """
    plans = []
    for demand in (trace.per_second(web_demand(trace.rps, cluster)),
                   trace.per_second(worker_demand(trace.orders_per_s, cluster))):
        plans.append(clamp_to_bounds(demand_ahead(demand, cluster.startup_s), cluster))
    web, workers = plans
    return RequestedReplicas(web, workers, int(web[0]), int(workers[0]))
