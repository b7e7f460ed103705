"""Per-second arrival noise: what a live pod counts in a second is not the trace's rate.

A trace holds its rate for a minute, but the requests of one second are a random count around
it: Poisson for independent visitors (variance = mean), more for visitors who come in
groups. The simulator draws each second's arrivals, seeded, as

    a_t = max(0, r_t + sqrt(D * r_t) * z_t),   z_t ~ N(0, 1) independent,

D being `arrival_noise` (0: the steady rate, as before; 1: Poisson's variance; > 1 an
over-dispersed count with that variance-to-mean ratio). The normal approximation of the count
is within a few per cent of Poisson's tails from ~10 requests/s up (the traces' lowest rate),
and draws a season's 8.4 million seconds in a tenth of a second, in single precision.

What the noisy arrivals feed is what a live platform's signals carry: the scraped request
rate (and the CPU utilisation made from it) is their mean over the rate window, and a pod's
push judges their mean over the push rule's window. Demand, and so the SLO-violation
seconds, stays on the rate r_t: the SLO headroom (`slo_utilization` 0.8) is what keeps a
pod's latency within the SLO through a second's variation at its rate. The order stream
keeps its rate (the queue sums it over many seconds). See docs/simulation.md.
"""

from __future__ import annotations

import numpy as np

from scaler.simulate.trace import Trace


def noisy_arrivals(trace: Trace, arrival_noise: float, seed: int) -> np.ndarray:
    """Each second's arrivals (float32, one per second of the trace), seeded."""
    rate = np.asarray(trace.rps, dtype=np.float32)
    if not arrival_noise:
        return np.repeat(rate, trace.step_s)
    # One row per trace step: the rate and its deviation are worked out once a step.
    generator = np.random.default_rng(seed)
    arrivals = generator.standard_normal((len(rate), trace.step_s), dtype=np.float32)
    arrivals *= np.sqrt(np.float32(arrival_noise) * rate)[:, None]
    arrivals += rate[:, None]
    return np.maximum(arrivals, 0.0, out=arrivals).ravel()


def trailing_mean(values: np.ndarray, seconds: int, before: float) -> np.ndarray:
    """out[t] = mean(values[t - seconds + 1 .. t]), the seconds before the first being
    `before` (the rate the cluster had settled on)."""
    if seconds <= 1:
        return values
    padded = np.concatenate([np.full(seconds - 1, before, dtype=values.dtype), values])
    total = padded[seconds - 1:].copy()
    for lag in range(1, seconds):
        total += padded[seconds - 1 - lag : len(padded) - lag]
    total /= np.float32(seconds)
    return total


def trailing_min(values: np.ndarray, seconds: int, before: float) -> np.ndarray:
    """out[t] = min(values[t - seconds + 1 .. t]), the seconds before the first being
    `before`."""
    if seconds <= 1:
        return values
    padded = np.concatenate([np.full(seconds - 1, before, dtype=values.dtype), values])
    lowest = padded[seconds - 1:].copy()
    for lag in range(1, seconds):
        np.minimum(lowest, padded[seconds - 1 - lag : len(padded) - lag], out=lowest)
    return lowest


def block_means(values: np.ndarray, tick: int) -> np.ndarray:
    """Each tick's mean (float64) of a per-second series."""
    return values.reshape(-1, tick).mean(axis=1, dtype=np.float64)


def block_extremes(values: np.ndarray, tick: int) -> tuple[np.ndarray, np.ndarray]:
    """Each tick's highest and lowest value of a per-second series."""
    blocks = values.reshape(-1, tick)
    return blocks.max(axis=1), blocks.min(axis=1)


def per_block(values: np.ndarray, tick: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each tick's mean (float64), highest and lowest value of a per-second series."""
    return (block_means(values, tick), *block_extremes(values, tick))
