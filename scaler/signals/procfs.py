"""Process and socket facts from Linux /proc: a process's children, their CPU time, and the
connections waiting to be accepted on a listening port.

Used for the local target, where the "pods" are gunicorn workers: the children of the
gunicorn master are its workers, their CPU time gives the utilisation HPA would see, and
the listen socket's accept queue shows requests waiting for a free worker, which the
storefront's own latency histogram cannot see (its clock starts once a worker took them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from common.listen_queue import listen_backlog

PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int, proc: Path = PROC) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if the process is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces and parentheses.
    return raw.rsplit(")", 1)[1].split()


def children_of(parent_pid: int, proc: Path = PROC) -> list[int]:
    """Pids whose parent is `parent_pid`, living or not yet reaped (zombies excluded)."""
    children = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name), proc)
        # fields[0] is the state, fields[1] the parent pid
        if fields and fields[0] != "Z" and int(fields[1]) == parent_pid:
            children.append(int(entry.name))
    return sorted(children)


def cpu_seconds(pid: int, proc: Path = PROC) -> float | None:
    """User plus system CPU seconds the process has used, or None if it is gone."""
    fields = stat_fields(pid, proc)
    if fields is None:
        return None
    # utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command name.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


class ChildrenCpu:
    """CPU utilisation of a parent's children between two calls (1.0 = one core each)."""

    name = "cpu"

    def __init__(self, parent_pid: Callable[[], int | None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.parent_pid = parent_pid
        self.clock = clock
        self._last: tuple[float, dict[int, float]] | None = None

    def utilization(self) -> float | None:
        """Average busy fraction per child since the last call; None on the first call."""
        parent = self.parent_pid()
        if parent is None:
            self._last = None
            return None
        now = self.clock()
        sample = {pid: used for pid in children_of(parent)
                  if (used := cpu_seconds(pid)) is not None}
        previous, self._last = self._last, (now, sample)
        if previous is None or not sample:
            return None
        then, before = previous
        # Only children seen both times count: a newborn has no baseline, a dead one no end.
        common = [pid for pid in sample if pid in before]
        if not common or now <= then:
            return None
        busy = sum(sample[pid] - before[pid] for pid in common)
        return max(0.0, min(1.0, busy / ((now - then) * len(common))))


class ListenBacklog:
    """Requests queued in front of the storefront's workers, read from its listen socket."""

    name = "backlog"

    def __init__(self, port: int) -> None:
        self.port = port

    def waiting(self) -> int | None:
        """Connections not yet accepted by any worker; None if the port is not listening."""
        return listen_backlog(self.port)
