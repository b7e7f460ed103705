"""The worker's liveness signal: a small file its main loop rewrites while it turns.

`peakshop worker --check` (a Kubernetes exec probe) passes while the file is fresh. The loop
keeps beating through a database or Redis outage — restarting would not help there — and
stops only when the loop itself is stuck.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass


@dataclass
class Heartbeat:
    path: str
    consumer: str
    every_s: float = 1.0
    _last: float = 0.0

    def beat(self, force: bool = False) -> None:
        """Rewrite the file, at most once per `every_s` unless forced."""
        now = time.time()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        partial = f"{self.path}.{os.getpid()}.tmp"
        with open(partial, "w") as handle:
            json.dump({"consumer": self.consumer, "pid": os.getpid(), "at": now}, handle)
        os.replace(partial, self.path)

    def clear(self) -> None:
        """Remove the file on a clean exit, so a stopped worker is not reported alive; a file
        another worker (sharing the folder) wrote last is left to it."""
        try:
            with open(self.path) as handle:
                if json.load(handle).get("pid") != os.getpid():
                    return
            os.remove(self.path)
        except (OSError, ValueError):
            pass


def heartbeat_age_s(path: str, now: float | None = None) -> float | None:
    """Seconds since the worker last beat, or None when there is no heartbeat at all."""
    try:
        with open(path) as handle:
            beat_at = float(json.load(handle)["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(0.0, (time.time() if now is None else now) - beat_at)
