"""Traces as load: which trace, how fast to play it, and the arrival rate at each second.

A trace (the `minute,rps[,orders_per_s]` / `second,...` format of `peakshop scaler simulate`)
gives storefront arrivals per second. Replaying it locally takes two knobs:

- `compress` plays the trace's time axis that many times faster (a week in 14 minutes with
  720); each wall-clock second gets the *mean* rate of the trace seconds it covers, so no
  peak between two samples is skipped and no volume is invented.
- `scale` multiplies every rate (a national shop's Black Friday onto a laptop with 0.1).

Pure: no Locust import here, so the storefront, the rehearsal and the tests can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loadtests.arrivals import DEFAULT_PACING_S, users_for_rate
from scaler.simulate.trace import Trace, TraceFileError, load_trace, trace_from_rates

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ReadyMade:
    """A trace shipped with peakshop and the compression/scale that fit one machine."""

    description: str
    file: str | None          # CSV next to this module; None for a generated trace
    compress: float
    scale: float
    # Users added or removed per second: a surge that nobody announced arrives in seconds.
    spawn_rate: float | None = None


READY_MADE: dict[str, ReadyMade] = {
    # Cut from the season traces: 18-24 December and Black Friday (29 November) 2024.
    "christmas-week": ReadyMade("18-24 December, per minute, in 14 minutes",
                                "christmas-week.csv", compress=720.0, scale=0.25),
    "black-friday": ReadyMade("Black Friday from midnight, per minute, in 15 minutes",
                              "black-friday.csv", compress=96.0, scale=0.1),
    "flash-sale": ReadyMade("10 visits/s, then a launch at 8x that decays, 10 minutes",
                            "flash-sale.csv", compress=1.0, scale=1.0),
    "steady": ReadyMade("10 visits/s for 10 minutes", None, compress=1.0, scale=1.0),
    # Unannounced: 15 visits/s, then 120 (eight times as many, several times what one web
    # worker serves on a shared 2-core machine) within 4 s for a minute, back to 15 over
    # 15 s; 2.5 minutes. --scale fits it to a bigger machine.
    "surge": ReadyMade("15 visits/s, an unannounced surge to 120 within 4 s, 2.5 minutes",
                       "surge.csv", compress=1.0, scale=1.0, spawn_rate=300.0),
}
STEADY_RATE = 10.0
STEADY_MINUTES = 10
# Users added or removed per second when the rate changes: the flash-sale launch needs about
# 35/s at a 10 s pacing; above 100 Locust warns that spawning may stutter.
SPAWN_RATE = 100.0


class ReplayError(ValueError):
    """Replay settings that cannot work; the message names the problem and the fix."""


@dataclass(frozen=True)
class ReplaySettings:
    """What to replay and how: a trace file or ready-made name, compression and scale."""

    trace: str
    compress: float | None = None   # None: the ready-made trace's own, else 1
    scale: float | None = None      # None: the ready-made trace's own, else 1


@dataclass(frozen=True)
class Replay:
    """Arrival rates (visits/s) for each wall-clock second of the replay."""

    rates: np.ndarray
    source: str
    compress: float
    scale: float
    spawn_rate: float = SPAWN_RATE   # users added or removed per second

    @property
    def duration_s(self) -> int:
        """Wall-clock seconds the replay lasts."""
        return len(self.rates)

    def rate_at(self, run_time_s: float) -> float | None:
        """The arrival rate `run_time_s` into the replay; None once it is over."""
        if run_time_s < 0:
            return float(self.rates[0])
        second = int(run_time_s)
        if second >= len(self.rates):
            return None
        return float(self.rates[second])

    def tick(self, run_time_s: float, pacing_s: float = DEFAULT_PACING_S,
             fixed_users: int = 0) -> tuple[int, float] | None:
        """Locust's shape answer at `run_time_s`: (users, spawn rate), or None when over.

        `fixed_users` are users outside the paced crowd (Locust's `fixed_count`, such as
        the merchant), added on top so they never take a shopper's place.
        """
        rate = self.rate_at(run_time_s)
        if rate is None:
            return None
        return users_for_rate(rate, pacing_s) + fixed_users, self.spawn_rate

    @property
    def total_arrivals(self) -> float:
        """Visits the whole replay offers."""
        return float(self.rates.sum())


def positive(name: str, value: float) -> float:
    """`value` of option --`name`, if a finite number above 0; else ReplayError."""
    if not math.isfinite(value) or value <= 0:
        raise ReplayError(f"--{name} must be a number above 0: got {value}")
    return float(value)


def read_trace(name_or_path: str) -> Trace:
    """A ready-made trace by name, or a trace file by path (TraceFileError when unreadable)."""
    ready = READY_MADE.get(name_or_path)
    if ready is None:
        if not Path(name_or_path).is_file():
            raise ReplayError(f"--trace {name_or_path!r} is neither a file nor one of "
                              f"{', '.join(READY_MADE)}: give a CSV path or a ready-made name")
        return load_trace(name_or_path)
    if ready.file is None:
        return trace_from_rates([STEADY_RATE] * STEADY_MINUTES, step_s=60)
    return load_trace(PACKAGE_DIR / ready.file)


def compressed_rates(trace: Trace, compress: float, scale: float = 1.0) -> np.ndarray:
    """Mean rate per wall-clock second once the trace plays `compress` times faster, scaled.

    Arrivals accumulate linearly within each step of the trace, so integrating the
    cumulative count over each wall second's slice of trace time is exact for any
    compression, including fractional ones and a last slice that is cut short.
    """
    compress = positive("compress", compress)
    scale = positive("scale", scale)
    step_edges = np.arange(len(trace.rps) + 1, dtype=float) * trace.step_s
    cumulative = np.concatenate([[0.0], np.cumsum(trace.rps * trace.step_s)])
    trace_seconds = float(trace.duration_s)
    wall_seconds = max(1, math.ceil(trace_seconds / compress - 1e-9))
    edges = np.minimum(np.arange(wall_seconds + 1, dtype=float) * compress, trace_seconds)
    arrivals = np.diff(np.interp(edges, step_edges, cumulative))
    widths = np.diff(edges)
    return arrivals / widths * scale


def build_replay(settings: ReplaySettings) -> Replay:
    """Read and compress the trace named by `settings` (ReplayError/TraceFileError if bad)."""
    ready = READY_MADE.get(settings.trace)
    compress = settings.compress if settings.compress is not None else (
        ready.compress if ready else 1.0)
    scale = settings.scale if settings.scale is not None else (ready.scale if ready else 1.0)
    compress = positive("compress", compress)
    scale = positive("scale", scale)
    trace = read_trace(settings.trace)
    return Replay(rates=compressed_rates(trace, compress, scale), source=settings.trace,
                  compress=compress, scale=scale,
                  spawn_rate=(ready.spawn_rate if ready and ready.spawn_rate else SPAWN_RATE))


__all__ = ["READY_MADE", "Replay", "ReplayError", "ReplaySettings", "TraceFileError",
           "build_replay", "compressed_rates", "read_trace"]
