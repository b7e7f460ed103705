"""The `peakshop` policy's settings: one frozen dataclass, built at the edge."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

from scaler.capacity import Bounds, Capacity


@dataclass(frozen=True)
class PolicySettings:
    # What a pod can do (measured on the real deployment; the simulator's flags feed these).
    pod_max_rps: float = 40.0            # requests/s that saturate one web pod
    slo_utilization: float = 0.8         # latency holds up to this share of saturation
    worker_orders_per_s: float = 5.0     # orders one worker confirms per second
    startup_s: float = 45.0              # from asking for a pod to it serving
    queue_slo_s: float = 60.0            # the oldest order may wait at most this long
    min_replicas: int = 2
    max_replicas: int = 200
    period_s: int = 15                   # one decision per scrape
    season_origin_s: float = 0.0         # `at_s` of minute 0 of the events and history files
    max_pod_size: float = 1.0            # in-pod resize the platform allows (1.0: none)

    # Reactive sizing: the share of a pod's SLO capacity planned for, and the HPA-style rails.
    web_target: float = 0.9
    worker_target: float = 0.9
    tolerance: float = 0.1               # below target: no scale-down within this share
    tolerance_up: float = 0.0            # above target: the SLO is near, act at once
    scale_up_factor: float = 4.0         # scale up fast: surprises are caught by the reactive part
    scale_up_pods: int = 10
    scale_down_window_s: float = 60.0    # ... and down slowly (pushes and resizes catch a rise)
    scale_down_share: float = 0.25       # at most this share of the pods leaves per period
    burst_hold_s: float = 60.0           # a burst's pods are kept at least this long (> startup)
    surge_growth: float = 1.2            # rate growth per period that means a crowd is arriving
    surge_horizon_s: float = 60.0        # a surge is extrapolated this far (start-up + delay)
    surge_cap: float = 4.0               # ... by at most this factor
    latency_boost: float = 2.0           # p95 over SLO: the ready pods are this much too few
    queue_drain_s: float = 30.0          # a backlog should be gone within this long
    stale_after_s: float = 60.0          # older readings are not trusted: hold the last decision
    push_memory_s: float = 45.0          # a pushed rate counts until scrapes have caught up
                                         # (scrape delay 15 s + rate window 30 s)
    push_margin: float = 1.3             # ... with this margin: the crowd may still be growing
    push_horizon_s: float = 40.0         # a growing pushed rate is extrapolated this far
    push_growth_cap: float = 1.4         # ... to at most this many times the rate pushed
    release_after_push: bool = True      # a push's pods serve and the rate falls: down at once
    scrape_lag_s: float = 30.0           # a scraped rate describes about this long ago
    # A rise's first push resizes running pods only (cheap, and given back within
    # unconfirmed_push_memory_s); pods once it is pushed again past what it planned for.
    resize_first: bool = True
    unconfirmed_push_memory_s: float = 40.0

    # Planning: forecasts and announced events.
    forecast_margin_s: float = 60.0      # forecast for now + startup_s + this
    forecast_target: float = 1.0         # a forecast is sized to the SLO: reactive adds the margin
    event_lead_s: float = 180.0          # crowds gather before the announced start
    event_hold_s: float = 120.0          # announced capacity is kept this long after the start
    event_margin: float = 1.0            # pushes and resizes absorb an estimate that falls short
    event_target: float = 0.9
    # Standby: the largest one-minute rise seen around the coming minutes on earlier days
    # (unannounced crowds recur at the times shops send e-mails), up to this factor, is kept
    # ready on top of the rate now, sized to the SLO. 1.0: no standby.
    standby_rise_cap: float = 2.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name != "season_origin_s" and value < 0:
                raise ValueError(f"policy setting {field.name} must be >= 0: got {value}")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("policy settings need 1 <= min_replicas <= max_replicas")
        if self.max_pod_size < 1:
            raise ValueError("policy setting max_pod_size must be >= 1 (1: no in-pod resize)")
        for name in ("web_target", "worker_target", "forecast_target", "event_target",
                     "slo_utilization"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"policy setting {name} must be in (0, 1]")
        if self.period_s < 1 or self.pod_max_rps <= 0 or self.worker_orders_per_s <= 0:
            raise ValueError("policy settings need period_s >= 1 and positive pod capacities")

    @cached_property
    def pod_slo_rps(self) -> float:
        """Requests/s one web pod serves within the latency SLO."""
        return self.pod_max_rps * self.slo_utilization

    @cached_property
    def capacity(self) -> Capacity:
        """What one replica does, as the one value every sizing reads."""
        return Capacity(self.pod_max_rps, self.worker_orders_per_s, self.startup_s,
                        self.slo_utilization)

    @cached_property
    def bounds(self) -> Bounds:
        """The replica range: the policy's decisions always end inside it."""
        return Bounds(self.min_replicas, self.max_replicas)

    @classmethod
    def for_capacity(cls, capacity: Capacity, bounds: Bounds, levers: bool = True,
                     **overrides) -> PolicySettings:
        """Settings for a platform described by its Capacity and Bounds values; `levers`
        says whether it pushes listen backlogs and resizes pods in place."""
        chosen = {**({} if levers else WITHOUT_LEVERS), **overrides}
        return cls(pod_max_rps=capacity.pod_max_rps, slo_utilization=capacity.slo_utilization,
                   worker_orders_per_s=capacity.worker_orders_per_s,
                   startup_s=capacity.startup_s, min_replicas=bounds.min_replicas,
                   max_replicas=bounds.max_replicas, **chosen)


# Without pushes and in-pod resize to catch a rise, capacity is kept longer after a peak and
# an event's estimate carries a margin (each measured both ways, docs/simulation.md).
WITHOUT_LEVERS = {"scale_down_window_s": 120.0, "event_hold_s": 300.0, "event_margin": 1.25,
                  "max_pod_size": 1.0, "push_margin": 1.1}
