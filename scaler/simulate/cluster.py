"""The simulated cluster's rules: demand, start-up, ready pods and the order backlog.

Everything here works on whole arrays (one value per second), so a season of 8.4 million
seconds is measured in a fraction of a second while keeping the 1-second semantics exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from scaler.capacity import Bounds, Capacity

ROOM_SETTINGS = ("waiting_room", "room_react_s", "room_answers_counted")

# A float rate that is an exact multiple of the per-pod capacity must not round up a pod.
_CEIL_SLACK = 1e-9


@dataclass(frozen=True)
class ClusterSettings:
    """The public cluster model (see docs/simulation.md); every field is a CLI flag."""

    pod_max_rps: float = 40.0          # requests/s that saturate one web pod
    slo_utilization: float = 0.8       # latency stays within SLO up to this share of saturation
    worker_orders_per_s: float = 5.0   # orders one worker confirms per second
    startup_s: int = 45                # asked for at t, ready at t + startup_s
    min_replicas: int = 2
    max_replicas: int = 200
    scrape_s: int = 15                 # every signal reaches a policy this late
    rate_window_s: int = 30            # rates are averaged over this window
    queue_slo_s: float = 60.0          # oldest order may wait at most this long
    p95_share: float = 0.05            # p95 leaves the SLO once this share of requests does
    # Platform features every policy may use (see docs/simulation.md):
    push: bool = True                  # storefront pods push their listen backlog ...
    push_s: int = 2                    # ... which reaches a listening policy this late
    push_at: float = 0.9               # ... sent once arrivals pass this share of SLO capacity
    push_noise_sd: float = 0.0         # ... by this many sqrt(arrivals/s): a live push's margin
    push_mean_s: int = 1               # ... judging the mean arrivals of this many seconds
    push_confirm_s: int = 1            # ... past the mark this many seconds in a row
    push_long_mean_s: int = 0          # ... or the mean of this many seconds (0: no such look)
    push_long_noise_sd: float = 2.0    # ... past the mark by this many of its deviations
    resize_s: int = 5                  # in-place resize + gunicorn TTIN: extra in-pod capacity
    max_pod_size: float = 2.0          # ... up to this many times a pod's template capacity
    # Signal faults, the same seeded draws for every policy:
    signal_faults: float = 0.03        # share of scrapes lost: 1/3 traffic, 1/3 queue, 1/3 late
    outages_per_day: float = 0.5       # traffic signal outages of outage_s (stale signals)
    outage_s: int = 300
    fault_seed: int = 0
    # Per-second arrival noise (scaler/simulate/noise.py): a second's arrivals vary around the
    # rate with this variance-to-mean ratio (0: steady rates; 1: Poisson), seeded.
    arrival_noise: float = 0.0
    noise_seed: int = 0
    # The waiting room (scaler/simulate/room.py; off: every figure as without it):
    waiting_room: bool = False
    room_react_s: int = 2              # an overload that starts with no line misses this long
    room_answers_counted: bool = True  # the scraped rate counts the room's own answers (live)

    def __post_init__(self) -> None:
        # Each setting: whether its value is allowed, and what is (for the error's fix).
        checks = {
            "pod_max_rps": (self.pod_max_rps > 0, "x > 0"),
            "slo_utilization": (0 < self.slo_utilization <= 1, "0 < x <= 1"),
            "worker_orders_per_s": (self.worker_orders_per_s > 0, "x > 0"),
            "startup_s": (self.startup_s >= 0, "x >= 0"),
            "min_replicas": (self.min_replicas >= 1, "x >= 1"),
            "max_replicas": (self.max_replicas >= self.min_replicas, "x >= --min-replicas"),
            "scrape_s": (self.scrape_s >= 0, "x >= 0"),
            "rate_window_s": (self.rate_window_s >= 1, "x >= 1"),
            "queue_slo_s": (self.queue_slo_s > 0, "x > 0"),
            "p95_share": (0 < self.p95_share < 1, "0 < x < 1"),
            "push_s": (self.push_s >= 0, "x >= 0"),
            "push_at": (0 < self.push_at <= 2, "0 < x <= 2"),
            "push_noise_sd": (0 <= self.push_noise_sd <= 10, "0 <= x <= 10"),
            "resize_s": (self.resize_s >= 0, "x >= 0"),
            "max_pod_size": (1 <= self.max_pod_size <= 16, "1 <= x <= 16"),
            "signal_faults": (0 <= self.signal_faults <= 0.5, "0 <= x <= 0.5"),
            "outages_per_day": (0 <= self.outages_per_day <= 96, "0 <= x <= 96"),
            "outage_s": (self.outage_s >= 0, "x >= 0"),
            "fault_seed": (self.fault_seed >= 0, "x >= 0"),
            "push_mean_s": (1 <= self.push_mean_s <= 60, "1 <= x <= 60"),
            "push_confirm_s": (1 <= self.push_confirm_s <= 60, "1 <= x <= 60"),
            "push_long_mean_s": (0 <= self.push_long_mean_s <= 120, "0 <= x <= 120"),
            "push_long_noise_sd": (0 <= self.push_long_noise_sd <= 10, "0 <= x <= 10"),
            "arrival_noise": (0 <= self.arrival_noise <= 100, "0 <= x <= 100"),
            "noise_seed": (self.noise_seed >= 0, "x >= 0"),
            "room_react_s": (0 <= self.room_react_s <= 3600, "0 <= x <= 3600"),
        }
        for name, (valid, allowed) in checks.items():
            if not valid or not math.isfinite(getattr(self, name)):
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} is out of range: got {getattr(self, name)}, "
                                 f"allowed {allowed.replace('x', flag, 1)}")
        for name in ("startup_s", "scrape_s", "rate_window_s", "min_replicas", "max_replicas",
                     "push_s", "resize_s", "outage_s", "fault_seed", "push_mean_s",
                     "push_confirm_s", "push_long_mean_s", "noise_seed", "room_react_s"):
            if int(getattr(self, name)) != getattr(self, name):
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number")

    @property
    def pod_slo_rps(self) -> float:
        """Requests/s one web pod serves within the latency SLO."""
        return self.pod_max_rps * self.slo_utilization

    @property
    def capacity(self) -> Capacity:
        """One simulated pod, as the Capacity value policies size with."""
        return Capacity(self.pod_max_rps, self.worker_orders_per_s, self.startup_s,
                        self.slo_utilization)

    @property
    def bounds(self) -> Bounds:
        """The bounds every policy lives within."""
        return Bounds(self.min_replicas, self.max_replicas)

    def as_dict(self) -> dict:
        """The settings as plain JSON-ready values (the room's only when it is on, so that a
        run without it reads exactly as before the room was modelled)."""
        values = asdict(self)
        if not self.waiting_room:
            for name in ROOM_SETTINGS:
                del values[name]
        return values


def web_demand(rps: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    """Web pods needed to keep latency within SLO: ceil(rps / (pod_max_rps * slo_utilization))."""
    return np.ceil(np.asarray(rps) / settings.pod_slo_rps - _CEIL_SLACK).clip(0).astype(np.int64)


def worker_demand(orders_per_s: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    """Workers needed to confirm orders as fast as they arrive."""
    per_worker = settings.worker_orders_per_s
    return np.ceil(np.asarray(orders_per_s) / per_worker - _CEIL_SLACK).clip(0).astype(np.int64)


def clamp_to_bounds(replicas: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    """`Bounds.clamp` over a whole array (for the plans made ahead: static-peak, oracle)."""
    return np.clip(replicas, settings.min_replicas, settings.max_replicas)


def _window_extreme(values: np.ndarray, width: int, ufunc: np.ufunc) -> np.ndarray:
    """out[i] = ufunc-reduce(values[i:i+width]), by doubling spans: log2(width) array passes."""
    count = len(values) - width + 1
    if count <= 0:
        return np.empty(0, dtype=values.dtype)
    span, extreme = 1, values
    while span * 2 <= width:          # extreme[i] covers values[i : i + 2 * span]
        extreme = ufunc(extreme[:-span], extreme[span:])
        span *= 2
    # two overlapping spans of `span` cover any window of `width` <= 2 * span
    return ufunc(extreme[:count], extreme[width - span : width - span + count])


def effective_size(size: np.ndarray | None, seconds: int, resize_s: int,
                   before: np.ndarray | None = None) -> np.ndarray:
    """In-pod capacity in effect per second: a raise lands resize_s after it was asked for,
    a cut at once (the same min-over-window rule as pods starting). `before` holds the sizes
    asked for in the seconds just before (none: 1.0, the template)."""
    if size is None:
        return np.ones(seconds)
    # Sizes are compared in single precision, as they always were (the figures stay put).
    history = _preceded(np.asarray(size, dtype=np.float32), before, resize_s, 1.0)
    return _window_extreme(history, resize_s + 1, np.minimum).astype(float)


def _preceded(values: np.ndarray, before: np.ndarray | None, width: int,
              initial) -> np.ndarray:
    """`values` after the `width` values before them (`before`'s last ones, padded in front
    with `initial` where it has fewer)."""
    before = values[:0] if before is None else np.asarray(before, dtype=values.dtype)[-width:]
    if not width:
        return values
    pad = np.full(width - len(before), initial, dtype=values.dtype)
    return np.concatenate([pad, before, values])


def ready_replicas(requested: np.ndarray, initial: int, startup_s: int,
                   before: np.ndarray | None = None) -> np.ndarray:
    """Ready pods per second: min of the requested counts over [t - startup_s, t].

    Scaling down removes not-yet-ready pods first (as a ReplicaSet does), so the pods asked
    for at or before t - startup_s survive to t exactly when the requested count never fell
    below them in between. Before the trace the cluster had `initial` pods, all ready;
    `before` holds the counts requested in the seconds just before `requested` (when a long
    run is measured a part at a time).
    """
    history = _preceded(np.asarray(requested, dtype=np.int64), before, startup_s, initial)
    return _window_extreme(history, startup_s + 1, np.minimum)


def demand_ahead(demand: np.ndarray, horizon_s: int) -> np.ndarray:
    """max(demand[t .. t + horizon_s]): what must be asked for at t to be ready for all of it."""
    demand = np.asarray(demand, dtype=np.int64)
    padded = np.concatenate([demand, np.zeros(horizon_s, dtype=np.int64)])
    return _window_extreme(padded, horizon_s + 1, np.maximum)


def order_backlog(orders_per_s: np.ndarray, workers_ready: np.ndarray,
                  settings: ClusterSettings, carried: float = 0.0) -> np.ndarray:
    """Orders waiting after each second: b_t = max(0, b_{t-1} + arrivals_t - capacity_t),
    starting from `carried` orders.

    Solved in closed form (Lindley): b_t = S_t - min(-carried, min_{j<=t} S_j) with S the
    running sum of arrivals minus capacity, so no per-second Python loop is needed.
    """
    net = np.asarray(orders_per_s, float) - workers_ready * settings.worker_orders_per_s
    running = np.cumsum(net)
    lowest = np.minimum.accumulate(running)
    return running - np.minimum(lowest, -carried)


def queue_age(backlog: np.ndarray, workers_ready: np.ndarray,
              settings: ClusterSettings) -> np.ndarray:
    """Age of the oldest order ~ backlog / service rate (seconds)."""
    return backlog / (np.maximum(workers_ready, 1) * settings.worker_orders_per_s)
