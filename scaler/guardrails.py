"""The guard rails around a replica recommendation, one small named function each.

Shared by the `peakshop` policy and the HPA/KEDA baselines, in the order the Kubernetes HPA
applies them: tolerance band, stabilisation window, scale-up limit; the min/max clamp is
`scaler.capacity.Bounds.clamp`, the one clamp of the scaler.
"""

from __future__ import annotations

import math

# (at_s, recommended replicas), oldest first
Recommendations = tuple[tuple[float, int], ...]


def within_tolerance(usage_ratio: float, tolerance: float,
                     tolerance_up: float | None = None) -> bool:
    """True when usage/target is so close to 1 that acting would only chase noise.

    The band is [1 - tolerance, 1 + tolerance_up]; tolerance_up defaults to tolerance (the
    HPA's symmetric band).
    """
    above = tolerance if tolerance_up is None else tolerance_up
    return 1.0 - tolerance <= usage_ratio <= 1.0 + above


def tolerance_band(current: int, desired: int, usage_ratio: float, tolerance: float,
                   tolerance_up: float | None = None) -> int:
    """Keep `current` while the usage ratio stays within the tolerance band."""
    return current if within_tolerance(usage_ratio, tolerance, tolerance_up) else desired


def remember(recommendations: Recommendations, at_s: float, desired: int,
             window_s: float) -> Recommendations:
    """Add a recommendation to the window and forget those that can no longer be the highest.

    Entries older than `window_s` leave, and so does any entry followed by a recommendation at
    least as high, so the first entry is always the window's highest (a monotonic queue).
    """
    if not recommendations or recommendations[0][1] <= desired:
        return ((at_s, desired),)   # the highest is no higher: all of them leave (common)
    cutoff = at_s - window_s
    start = 0
    for entry in recommendations:  # oldest first: stop at the first one still in the window
        if entry[0] > cutoff:
            break
        start += 1
    stop = len(recommendations)
    while stop > start and recommendations[stop - 1][1] <= desired:
        stop -= 1
    return recommendations[start:stop] + ((at_s, desired),)


def stabilise(current: int, desired: int, *windows: Recommendations) -> int:
    """Scale down only to the highest recommendation of the window(s); scale up at once."""
    if desired >= current:
        return desired
    floor = desired
    for window in windows:
        if window and window[0][1] > floor:
            floor = window[0][1]
    return min(current, floor)


def scale_up_limit(current: int, factor: float, pods: int) -> int:
    """The most replicas one period may reach: max(factor * current, current + pods)."""
    return max(math.ceil(current * factor), current + pods)


def limit_scale_up(current: int, desired: int, factor: float, pods: int) -> int:
    """Cap a scale-up at `scale_up_limit`."""
    return min(desired, scale_up_limit(current, factor, pods))


def limit_scale_down(current: int, desired: int, max_share: float) -> int:
    """Remove at most `max_share` of the current replicas (and at least one) per period."""
    if desired >= current:
        return desired
    step = max(1, math.floor(current * max_share))
    return max(desired, current - step)

