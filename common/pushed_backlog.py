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
"""

from __future__ import annotations

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


def publish(client, pod: str, waiting: int):
    """File `waiting` as pod `pod`'s backlog now (by the Redis server's clock). With an
    asyncio client, await the answer."""
    return client.eval(_PUBLISH, 1, KEY, pod, str(int(waiting)), str(int(FRESH_S * 1000)))


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
    """The fresh pods' total from the hash's fields (`pod -> "waiting stamp_ms"`); pure.

    A field that is not a reading (malformed, negative, stamped in the future beyond a
    second) counts as stale: garbage is never a backlog of 0.
    """
    total, pods, stale = 0, 0, []
    for pod, value in fields.items():
        reading = _reading(value)
        if reading is None or not -1000 <= now_ms - reading[1] <= fresh_s * 1000:
            stale.append(pod)
            continue
        total += reading[0]
        pods += 1
    return BacklogBoard(total if pods else None, pods, tuple(sorted(stale)))


def _reading(value: str) -> tuple[int, int] | None:
    parts = value.split()
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
