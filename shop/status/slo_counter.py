"""Good and bad events per component in one-minute buckets in Redis: the burn rate's input.

`record` writes at once, one pipelined round trip (HINCRBY + EXPIRE); the storefront's
requests are counted through `slo_batch`, which adds them up per process and writes them
here at most once a second. Every process of every pod adds to the same buckets, so the
evaluation sees the whole platform. When Redis is down the caller must not wait for it:
`record` pauses for a few seconds after a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence

import redis

from shop.status.burnrate import Window

log = logging.getLogger(__name__)

BUCKET_S = 60
KEY_PREFIX = "peakshop:slo:"
# The longest window (6 h) plus one bucket of slack.
RETENTION_S = 6 * 3600 + 2 * BUCKET_S
PAUSE_AFTER_FAILURE_S = 5.0

_paused_until = 0.0


def bucket_key(component: str, bucket: int) -> str:
    return f"{KEY_PREFIX}{component}:{bucket}"


def record(client: redis.Redis, component: str, good: int, bad: int,
           now: float | None = None) -> None:
    """Add events to the current bucket; a Redis failure is logged and swallowed."""
    global _paused_until
    moment = time.time() if now is None else now
    if moment < _paused_until or (good == 0 and bad == 0):
        return
    try:
        add_counts(client, {(component, int(moment // BUCKET_S)): (good, bad)})
    except (redis.RedisError, redis.exceptions.RedisClusterException) as problem:
        _paused_until = moment + PAUSE_AFTER_FAILURE_S
        log.warning("SLO counting paused for %.0f s: %s", PAUSE_AFTER_FAILURE_S, problem)


def add_counts(client: redis.Redis,
               counts: Mapping[tuple[str, int], Sequence[int]]) -> None:
    """Add (good, bad) per (component, bucket) in one pipelined round trip; raises
    redis.RedisError."""
    pipeline = client.pipeline(transaction=False)
    for (component, bucket), (good, bad) in counts.items():
        key = bucket_key(component, bucket)
        if good:
            pipeline.hincrby(key, "good", good)
        if bad:
            pipeline.hincrby(key, "bad", bad)
        pipeline.expire(key, RETENTION_S)
    pipeline.execute()


def window_counts(client: redis.Redis, component: str, windows_s: Iterable[int],
                  now: float | None = None) -> dict[int, Window]:
    """Good/bad totals over each window ending now (the current bucket included)."""
    moment = time.time() if now is None else now
    windows = sorted(set(windows_s))
    current = int(moment // BUCKET_S)
    oldest = current - (windows[-1] // BUCKET_S) + 1
    pipeline = client.pipeline(transaction=False)
    for bucket in range(oldest, current + 1):
        pipeline.hmget(bucket_key(component, bucket), "good", "bad")
    per_bucket = {bucket: (int(good or 0), int(bad or 0))
                  for bucket, (good, bad) in zip(range(oldest, current + 1), pipeline.execute(),
                                                 strict=True)}
    counts = {}
    for window in windows:
        first = current - (window // BUCKET_S) + 1
        good = sum(per_bucket[b][0] for b in range(first, current + 1))
        bad = sum(per_bucket[b][1] for b in range(first, current + 1))
        counts[window] = Window(good, bad)
    return counts
