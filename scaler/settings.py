"""The scaler's settings: one frozen dataclass, built once at the edge from flags and environment.

A malformed value stops start-up with one line that names it and the fix.
"""

from __future__ import annotations

import datetime
import math
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from scaler.capacity import Bounds, Capacity
from scaler.controller import ControllerSettings

TARGETS = ("local", "kubernetes")
POLICIES = ("peakshop", "hpa-cpu", "keda-queue")
# Kubernetes bounds are the simulator's defaults. Locally a sync gunicorn worker uses at most
# one core, and past one per core plus one (to fill the time others wait on Redis or the
# database) extra workers only take CPU from each other and from the load generator.
DEFAULT_BOUNDS = {"kubernetes": (2, 200), "local": (1, (os.cpu_count() or 1) + 1)}


DEFAULT_CAPACITY = {
    # The pod of docs/simulation.md, which the simulator's results are quoted for.
    "kubernetes": Capacity(pod_max_rps=40.0, worker_orders_per_s=5.0, startup_s=45.0),
    # One sync gunicorn worker with the rehearsal's shopper mix on a 2-core machine: its p95
    # leaves 0.5 s near 150 requests/s (`peakshop rehearse --no-scaler`). Order workers
    # confirm in batches of hundreds (benchmarks/pipeline.py); a worker forked from the
    # preloaded master serves at once, an order worker process within a few seconds.
    "local": Capacity(pod_max_rps=150.0, worker_orders_per_s=200.0, startup_s=5.0),
}


class ScalerConfigError(Exception):
    """A flag or variable is missing or malformed; the message names it and the fix."""


@dataclass(frozen=True)
class ScalerSettings:
    target: str
    dry_run: bool = False
    period_s: float = 15.0
    metrics_url: str = "http://127.0.0.1:8000/metrics"
    prometheus_url: str | None = None
    prometheus_selector: str = ""          # extra PromQL label matchers, e.g. namespace="shop"
    redis_url: str | None = None           # None: queue signals from the storefront's /metrics
    namespace: str = "default"
    web_deployment: str = "peakshop-web"
    worker_deployment: str = "peakshop-worker"
    kubeconfig: str | None = None
    lease_name: str = "peakshop-scaler"
    policy: str = "peakshop"
    season_origin_s: float = 0.0           # epoch seconds of minute 0 of events/history files
    events_file: str | None = None
    events_url: str | None = None          # the shop whose ops events API announces events
    events_poll_s: float = 60.0
    ops_token: str | None = None           # PEAKSHOP_OPS_TOKEN, for the events API
    history_file: str | None = None
    gunicorn_pidfile: str = "instance/gunicorn.pid"
    # The same interpreter and installation as the scaler, whatever is on PATH.
    worker_command: tuple[str, ...] = (sys.executable, "-m", "peakshop.cli", "worker")
    min_replicas: int = 2
    max_replicas: int = 200
    scaler_metrics_port: int = 9102        # 0: no /metrics endpoint for the scaler
    window_s: float = 30.0
    latency_slo_s: float = 0.5
    capacity: Capacity = DEFAULT_CAPACITY["kubernetes"]
    push: bool = False                     # hear the listen backlog between rounds
    max_pod_size: float = 1.0              # in-place resize of web pods, x template (1: none)

    @property
    def lease_duration_s(self) -> int:
        """A Lease outlives a few missed rounds, so one slow API call does not hand it over."""
        return max(15, int(3 * self.period_s))

    def controller_settings(self) -> ControllerSettings:
        """The part the control loop needs."""
        return ControllerSettings(period_s=self.period_s, dry_run=self.dry_run)

    @property
    def bounds(self) -> Bounds:
        """The replica range every decision ends in (applied by the policy, once)."""
        return Bounds(self.min_replicas, self.max_replicas)


def _http_url(flag: str, value: str) -> str:
    if urlparse(value).scheme not in ("http", "https") or not urlparse(value).netloc:
        raise ScalerConfigError(f"{flag} is not an http:// URL (for example "
                                f"http://127.0.0.1:8000/metrics): got {value!r}")
    return value


def _redis_url(value: str) -> str:
    if urlparse(value).scheme not in ("redis", "rediss", "unix"):
        raise ScalerConfigError(f"PEAKSHOP_REDIS_URL is not a redis:// URL (for example "
                                f"redis://localhost:6379/0): got {value!r}")
    return value


def _existing_file(flag: str, value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        raise ScalerConfigError(f"{flag} {value!r} does not exist: give the path of the file")
    return value


def season_start(value: str | None, today: datetime.date | None = None) -> float:
    """Epoch seconds of local midnight on `value` (ISO date), by default 1 October of the
    season `today` belongs to (a season runs from October into the new year)."""
    if value is None:
        today = today or datetime.date.today()
        year = today.year if today.month >= 10 else today.year - 1
        start = datetime.date(year, 10, 1)
    else:
        try:
            start = datetime.date.fromisoformat(value)
        except ValueError:
            raise ScalerConfigError(f"--season-start is not a date like 2025-10-01: "
                                    f"got {value!r}") from None
    return datetime.datetime.combine(start, datetime.time()).timestamp()


def _seconds(flags: Mapping[str, Any], name: str, default: float, *, above: float,
             most: float) -> float:
    """A duration flag (None: not given) within (above, most], finite."""
    value = flags.get(name)
    if value is None:
        return default
    value = float(value)
    if not (math.isfinite(value) and above < value <= most):
        flag = "--" + name.replace("_", "-")
        raise ScalerConfigError(f"{flag} must be more than {above:g} and at most {most:g} "
                                f"seconds: got {value:g}")
    return value


def build_settings(flags: Mapping[str, Any], environ: Mapping[str, str]) -> ScalerSettings:
    """Settings from command-line flags (None = not given) and the environment."""
    target = flags["target"]
    if target not in TARGETS:
        raise ScalerConfigError(f"--target must be one of {', '.join(TARGETS)}: got {target!r}")
    if (flags.get("policy") or "peakshop") not in POLICIES:
        raise ScalerConfigError(f"--policy must be one of {', '.join(POLICIES)}: "
                                f"got {flags.get('policy')!r}")
    period_s = _seconds(flags, "period", 15.0, above=0.0, most=3600.0)
    window_s = _seconds(flags, "window", 30.0, above=0.0, most=3600.0)
    latency_slo_s = _seconds(flags, "latency_slo", 0.5, above=0.0, most=60.0)
    low, high = DEFAULT_BOUNDS[target]
    min_replicas = flags.get("min_replicas") if flags.get("min_replicas") is not None else low
    max_replicas = flags.get("max_replicas") if flags.get("max_replicas") is not None else high
    if min_replicas < 1:
        raise ScalerConfigError(f"--min-replicas must be at least 1: got {min_replicas}")
    if max_replicas < min_replicas:
        raise ScalerConfigError(f"--max-replicas ({max_replicas}) is below --min-replicas "
                                f"({min_replicas}): raise it or lower --min-replicas")
    port = flags.get("scaler_metrics_port")
    port = 9102 if port is None else port
    if not 0 <= port <= 65535:
        raise ScalerConfigError(f"--scaler-metrics-port must be 0..65535: got {port}")
    instance = environ.get("PEAKSHOP_INSTANCE_PATH") or "instance"
    worker_command = (tuple(shlex.split(flags["worker_command"]))
                      if flags.get("worker_command") is not None
                      else ScalerSettings.worker_command)
    if not worker_command:
        raise ScalerConfigError("--worker-command is empty: give the order worker's command "
                                "line, for example 'peakshop worker'")
    redis_url = flags.get("redis_url") or environ.get("PEAKSHOP_REDIS_URL") or None
    namespace = flags.get("namespace")
    if namespace is None:
        from scaler.actuators.kubernetes import current_namespace

        namespace = current_namespace() if target == "kubernetes" else "default"
    prometheus_url = flags.get("prometheus")
    capacity = _capacity(flags, DEFAULT_CAPACITY[target])
    events_url = flags.get("events_from")
    ops_token = environ.get("PEAKSHOP_OPS_TOKEN") or None
    if events_url:
        events_url = _http_url("--events-from", events_url)
        if not ops_token:
            raise ScalerConfigError("--events-from needs PEAKSHOP_OPS_TOKEN: set it to the "
                                    "shop's operations token")
    events_poll_s = flags.get("events_poll_s")
    events_poll_s = 60.0 if events_poll_s is None else float(events_poll_s)
    if not math.isfinite(events_poll_s) or not 1 <= events_poll_s <= 3600:
        raise ScalerConfigError(f"--events-poll-s must be from 1 to 3600 seconds: got "
                                f"{events_poll_s:g}")
    max_pod_size = flags.get("max_pod_size")
    max_pod_size = 1.0 if max_pod_size is None else float(max_pod_size)
    if not math.isfinite(max_pod_size) or not 1.0 <= max_pod_size <= 8.0:
        raise ScalerConfigError(f"--max-pod-size must be from 1 (no in-place resize) to 8: "
                                f"got {max_pod_size:g}")
    if max_pod_size > 1.0 and target != "kubernetes":
        raise ScalerConfigError("--max-pod-size is for --target kubernetes (locally a pod is "
                                "one gunicorn worker): leave it out")
    return ScalerSettings(
        target=target,
        dry_run=bool(flags.get("dry_run")),
        period_s=float(period_s),
        metrics_url=_http_url("--metrics-url",
                              flags.get("metrics_url") or "http://127.0.0.1:8000/metrics"),
        prometheus_url=_http_url("--prometheus", prometheus_url) if prometheus_url else None,
        prometheus_selector=flags.get("prometheus_selector") or "",
        redis_url=_redis_url(redis_url) if redis_url else None,
        namespace=namespace,
        web_deployment=flags.get("web_deployment") or "peakshop-web",
        worker_deployment=flags.get("worker_deployment") or "peakshop-worker",
        kubeconfig=_existing_file("--kubeconfig", flags.get("kubeconfig")),
        policy=flags.get("policy") or "peakshop",
        season_origin_s=season_start(flags.get("season_start")),
        events_file=_existing_file("--events", flags.get("events")),
        events_url=events_url or None,
        events_poll_s=events_poll_s,
        ops_token=ops_token,
        history_file=_existing_file("--history", flags.get("history")),
        gunicorn_pidfile=(flags.get("gunicorn_pidfile") or environ.get("PEAKSHOP_PIDFILE")
                          or str(Path(instance) / "gunicorn.pid")),
        worker_command=worker_command,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        scaler_metrics_port=port,
        window_s=window_s,
        latency_slo_s=latency_slo_s,
        capacity=capacity,
        # Locally from the storefront's socket, on Kubernetes from what its pods publish.
        push=not flags.get("no_push"),
        max_pod_size=max_pod_size,
    )


def _capacity(flags: Mapping[str, Any], default: Capacity) -> Capacity:
    """The target's default capacity, with whatever the flags measured instead."""
    given = {"pod_max_rps": ("--pod-max-rps", flags.get("pod_max_rps")),
             "worker_orders_per_s": ("--worker-orders-per-s", flags.get("worker_orders_per_s")),
             "startup_s": ("--startup", flags.get("startup"))}
    values = {}
    for field, (flag, value) in given.items():
        if value is None:
            values[field] = getattr(default, field)
        elif not math.isfinite(value) or value < 0 or (value == 0 and field != "startup_s"):
            least = "0 or more" if field == "startup_s" else "more than 0"
            raise ScalerConfigError(f"{flag} must be {least}: got {value:g} (measure one "
                                    f"replica, e.g. with benchmarks/, and pass what it does)")
        else:
            values[field] = float(value)
    return Capacity(**values)
