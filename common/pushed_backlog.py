"""The storefront pods' listen backlogs in Redis: what each pod publishes, what the scaler sums.

On Kubernetes the scaler cannot read a storefront's listen socket: it lives in the pod's own
network namespace. So each pod's gunicorn master publishes its backlog once a second into
one Redis hash, a field per pod, stamped with the Redis server's clock (pods' clocks may
disagree; the server's is one clock for all). The scaler reads the whole hash in one round
trip (no SCAN over keys, whatever the number of pods) and sums the fields fresher than
`FRESH_S`: a pod that stopped publishing (gone, or its Redis link broken) drops out within
seconds instead of counting forever.

The hash expires `FRESH_S` after the last publication, so when no pod publishes the key is
gone and the scaler reads "no backlog known" (None), never 0.

A pod's field is `"<waiting> <stamp_ms>"`, or with its busy workers
`"<waiting> <busy> <workers> <stamp_ms>"`: the gunicorn workers serving a request, averaged
over the last second (two decimals), and how many workers it runs. Busy workers say a pod is
filling up before anything queues (the simulator's push at 0.9 of capacity); the accept queue
grows only once every worker is busy. Both forms are read, so a pod (or the edge gate) that
publishes its backlog alone still counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# One hash tag, like every peakshop key: on a Redis Cluster the key sits in one slot.
KEY = "peakshop:{web}:listen-backlog"
# Pods publish every second: a reading this old means its pod stopped publishing.
FRESH_S = 5.0
PUBLISH_EVERY_S = 1.0

# Stamped with the server's clock, and the hash kept alive while anyone publishes.
_PUBLISH = """
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ms)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return ms
"""
# The server's clock and every field, in one round trip.
_READ = """
return {redis.call('TIME'), redis.call('HGETALL', KEYS[1])}
"""


@dataclass(frozen=True)
class BacklogBoard:
    """What one read of the hash found: the fresh pods' total, and the stale fields."""

    waiting: int | None      # connections waiting over every fresh pod; None: no fresh pod
    pods: int                # fresh readings (a pod behind the gate files two: master, gate)
    stale: tuple[str, ...]   # fields to forget: too old, or not a reading at all
    busy: float | None = None    # busy workers over the fresh pods that say; None: none says
    workers: int | None = None   # ... and the workers those pods run

    @property
    def busy_share(self) -> float | None:
        """The share of the reporting pods' workers that are busy (0..1); None when unknown."""
        if self.busy is None or not self.workers:
            return None
        return min(1.0, self.busy / self.workers)


def publish(client, pod: str, waiting: int, busy: float | None = None,
            workers: int | None = None):
    """File `waiting` as pod `pod`'s backlog now (by the Redis server's clock), with its busy
    workers of `workers` when given. With an asyncio client, await the answer."""
    return client.eval(_PUBLISH, 1, KEY, pod, reading_text(waiting, busy, workers),
                       str(int(FRESH_S * 1000)))


def reading_text(waiting: int, busy: float | None = None, workers: int | None = None) -> str:
    """A field's value before its stamp: `"<waiting>"` or `"<waiting> <busy> <workers>"`."""
    if busy is None or workers is None:
        return str(int(waiting))
    return f"{int(waiting)} {min(max(float(busy), 0.0), int(workers)):.2f} {int(workers)}"


def read(client) -> BacklogBoard:
    """The board as it stands; redis errors propagate."""
    (seconds, micros), flat = client.eval(_READ, 1, KEY)
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
    return board_of(fields, now_ms)


def forget(client, fields: tuple[str, ...]) -> None:
    """Drop the fields of pods that stopped publishing (a gone pod leaves its field behind
    while the others keep the hash alive)."""
    if fields:
        client.hdel(KEY, *fields)


def board_of(fields: Mapping[str, str], now_ms: int, fresh_s: float = FRESH_S) -> BacklogBoard:
    """The fresh pods' totals from the hash's fields (`pod -> "waiting [busy workers]
    stamp_ms"`); pure.

    A field that is not a reading (malformed, negative, more busy than workers, stamped in
    the future beyond a second) counts as stale: garbage is never a backlog or a load of 0.
    """
    total, pods, stale = 0, 0, []
    busy, workers, reporting = 0.0, 0, 0
    for pod, value in fields.items():
        reading = _reading(value)
        if reading is None or not -1000 <= now_ms - reading.stamp_ms <= fresh_s * 1000:
            stale.append(pod)
            continue
        total += reading.waiting
        pods += 1
        if reading.workers is not None:
            busy += reading.busy
            workers += reading.workers
            reporting += 1
    return BacklogBoard(total if pods else None, pods, tuple(sorted(stale)),
                        round(busy, 2) if reporting else None, workers if reporting else None)


@dataclass(frozen=True)
class _Reading:
    waiting: int
    stamp_ms: int
    busy: float = 0.0
    workers: int | None = None


def _reading(value: str) -> _Reading | None:
    parts = value.split()
    if len(parts) not in (2, 4):
        return None
    whole = [parts[0], parts[-1], *parts[2:3]]
    if not all(part.isascii() and part.isdigit() for part in whole):
        return None
    if len(parts) == 2:
        return _Reading(int(parts[0]), int(parts[1]))
    busy = _decimal(parts[1])
    workers = int(parts[2])
    if busy is None or workers < 1 or busy > workers:
        return None
    return _Reading(int(parts[0]), int(parts[3]), busy, workers)


def _decimal(text: str) -> float | None:
    """A plain non-negative decimal ("3", "2.75"); None for anything else (nan, 1e3, -1)."""
    whole, _, fraction = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (fraction and not (
            fraction.isascii() and fraction.isdigit())):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
