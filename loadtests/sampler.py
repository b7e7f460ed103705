"""Once a second during a rehearsal: what the stack runs (web and order workers, queue) and
what Locust has written to its timeline so far.

Everything is read from outside the storefront (/proc, Redis, a file), never through it, so
sampling costs the server nothing and still works while it is drowning.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from loadtests import processes
from shop.orders.queue import queue_depth


@dataclass(frozen=True)
class StackSample:
    """The stack at one instant; CPU figures are cumulative seconds."""

    epoch: float
    web_workers: int
    order_workers: int
    queue_depth: int | None
    queue_age_s: float | None
    server_cpu_s: float
    locust_cpu_s: float
    machine_busy_s: float = 0.0   # every process on the machine, all cores


def gunicorn_master(pidfile: Path) -> int | None:
    """The master's pid from its pidfile, if that process is alive."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


class StackProbe:
    """Reads web workers (children of gunicorn's master), order workers, queue, CPU."""

    def __init__(self, pidfile: Path, order_workers: Callable[[], int],
                 redis_client: redis.Redis, locust_pid: Callable[[], int | None]) -> None:
        self.pidfile = pidfile
        self.order_workers = order_workers
        self.redis = redis_client
        self.locust_pid = locust_pid

    def sample(self) -> StackSample:
        master = gunicorn_master(self.pidfile)
        try:
            depth = queue_depth(self.redis)
            length, age = depth.length, depth.oldest_age_s
        except redis.RedisError:
            length, age = None, None
        locust = self.locust_pid()
        return StackSample(
            epoch=time.time(),
            web_workers=len(processes.children_of(master)) if master else 0,
            order_workers=self.order_workers(),
            queue_depth=length, queue_age_s=age,
            server_cpu_s=processes.tree_cpu_seconds(master) if master else 0.0,
            locust_cpu_s=processes.tree_cpu_seconds(locust) if locust else 0.0,
            machine_busy_s=processes.machine_busy_seconds())


class TimelineReader:
    """Follows Locust's JSON-lines timeline as it grows: per-second rows, then totals."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""
        self.rows: list[dict] = []
        self.totals: dict | None = None

    def read_new(self) -> list[dict]:
        """Rows written since the last call (a half-written last line waits for the next)."""
        try:
            with self.path.open(encoding="utf-8") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
                self.offset = handle.tell()
        except FileNotFoundError:
            return []
        lines = (self.partial + chunk).split("\n")
        self.partial = lines.pop()
        fresh = []
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            if "totals" in row:
                self.totals = row["totals"]
            else:
                fresh.append(row)
        self.rows.extend(fresh)
        return fresh
