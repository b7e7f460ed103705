"""Child processes of a rehearsal: start each in its own session, read them through /proc,
stop them in order, and leave nothing behind.

Each child gets its own session, so a Ctrl-C in the terminal reaches only the rehearsal,
which then stops the children in a sensible order (load first, storefront last). Each child
also asks the kernel for SIGTERM should the rehearsal itself die without cleaning up.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scaler.signals.procfs import children_of, cpu_seconds, stat_fields

PR_SET_PDEATHSIG = 1
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: a crash of the rehearsal may then leave children behind


@dataclass
class Child:
    """One started process and the log file it writes to."""

    name: str
    process: subprocess.Popen
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float) -> int | None:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL the whole session; the exit status."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_session(self.pid)
                self.process.wait()
        # Anything the child started in its session and left running goes too.
        kill_session(self.pid)
        self.log.close()
        return self.process.returncode


def kill_session(session_id: int) -> None:
    """SIGKILL every process still in the session (a child's leftovers)."""
    for pid in session_members(session_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start(name: str, command: Sequence[str], *, env: Mapping[str, str], log_path: Path,
          cwd: str | None = None, cpus: set[int] | None = None) -> Child:
    """Start `command` in a new session, its output appended to `log_path`; on `cpus` only
    (it and everything it forks) when given, else where this process runs."""

    def before_exec() -> None:
        _die_with_parent()
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    log = open(log_path, "ab")
    process = subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True, preexec_fn=before_exec)
    return Child(name, process, log)


def cpus_of(pid: int) -> list[int] | None:
    """The CPUs a live process may run on, as the kernel has them; None once it is gone."""
    try:
        return sorted(os.sched_getaffinity(pid))
    except OSError:
        return None


def session_members(session_id: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `session_id`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        # fields[0] is the state, fields[3] the session id.
        if fields and fields[0] != "Z" and int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children and its live ones: never decreases while
    the process lives, even as gunicorn retires workers."""
    fields = stat_fields(pid)
    if not fields:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / TICKS_PER_S
    return own + sum(cpu_seconds(child) or 0.0 for child in children_of(pid))


def machine_busy_seconds() -> float:
    """CPU time all cores have spent busy since boot (user, system, irq, steal...)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS_PER_S


def wait_for(predicate, timeout_s: float, interval_s: float = 0.2) -> bool:
    """Poll `predicate` until it is true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()
