"""Local: the storefront's gunicorn workers and a pool of `peakshop worker` processes.

On one machine the "pods" are processes: gunicorn's master adds a worker on SIGTTIN and
retires one on SIGTTOU, and order workers are child processes of the scaler that stop
cleanly on SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from scaler.actuators import ActuatorError, ReplicaCounts
from scaler.model import Decision
from scaler.signals import procfs

log = logging.getLogger("peakshop.scaler.local")


class GunicornWorkers:
    """A running gunicorn's worker count, found through its pidfile."""

    # Standard signals do not queue: two SIGTTINs that arrive before the master runs its
    # handler count as one. A short pause between signals lets each one be handled.
    SIGNAL_PAUSE_S = 0.05

    def __init__(self, pidfile: Path, settle_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pidfile = Path(pidfile)
        self.settle_s = settle_s
        self.clock = clock
        self._master: int | None = None
        self._requested = 0
        self._mismatch_since: float | None = None

    def master_pid(self) -> int | None:
        """The master's pid if the pidfile names a live process, else None."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if procfs.is_alive(pid) else None

    def _require_master(self) -> int:
        master = self.master_pid()
        if master is None:
            raise ActuatorError(f"no running gunicorn master in pidfile {self.pidfile}: "
                                "start `peakshop serve` or pass --gunicorn-pidfile PATH")
        if master != self._master:
            # A new master (first sight or a restart): take its count as the request.
            self._master, self._requested = master, len(procfs.children_of(master))
            self._mismatch_since = None
        return master

    def ready(self) -> int:
        """Worker processes alive under the master now."""
        return len(procfs.children_of(self._require_master()))

    def requested(self) -> int:
        """Workers asked for; re-synced to the real count if a signal was lost long ago."""
        running = self.ready()
        if running == self._requested:
            self._mismatch_since = None
        elif self._mismatch_since is None:
            self._mismatch_since = self.clock()
        elif self.clock() - self._mismatch_since > self.settle_s:
            log.warning("gunicorn runs %d workers, %d were requested %.0f s ago: "
                        "taking %d as the current request", running, self._requested,
                        self.settle_s, running)
            self._requested, self._mismatch_since = running, None
        return self._requested

    def scale_to(self, workers: int) -> None:
        """Signal the master until it has been asked for `workers` workers (at least 1)."""
        master = self._require_master()
        workers = max(1, workers)
        change = workers - self._requested
        which = signal.SIGTTIN if change > 0 else signal.SIGTTOU
        for _ in range(abs(change)):
            try:
                os.kill(master, which)
            except ProcessLookupError:
                raise ActuatorError(f"gunicorn master {master} exited while scaling") from None
            time.sleep(self.SIGNAL_PAUSE_S)
        self._requested = workers
        self._mismatch_since = None


class WorkerPool:
    """Order-worker processes started by the scaler; extras are stopped with SIGTERM."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None,
                 stop_timeout_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        self.stop_timeout_s = stop_timeout_s
        self.clock = clock
        self.target = 0
        self._running: list[subprocess.Popen] = []
        self._stopping: list[tuple[subprocess.Popen, float]] = []

    def _start(self) -> None:
        try:
            process = subprocess.Popen(self.command, env=self.env)
        except OSError as error:
            raise ActuatorError(f"cannot start order worker {' '.join(self.command)!r}: "
                                f"{error}") from None
        log.info("started order worker pid %d", process.pid)
        self._running.append(process)

    def reap(self) -> None:
        """Collect exited workers, restart ones that died, and kill stragglers past the timeout."""
        for process in [p for p in self._running if p.poll() is not None]:
            log.warning("order worker pid %d exited with %s; starting a replacement",
                        process.pid, process.returncode)
            self._running.remove(process)
        still_stopping = []
        for process, deadline in self._stopping:
            if process.poll() is None:
                if self.clock() > deadline:
                    log.warning("order worker pid %d ignored SIGTERM; killing it", process.pid)
                    process.kill()
                still_stopping.append((process, deadline))
        self._stopping = still_stopping
        while len(self._running) < self.target:
            self._start()

    def ready(self) -> int:
        """Workers running now."""
        self.reap()
        return len(self._running)

    @property
    def pids(self) -> list[int]:
        """Pids of the running workers, oldest first."""
        return [process.pid for process in self._running]

    def scale_to(self, workers: int) -> None:
        """Start or SIGTERM workers (newest first) until `workers` run."""
        self.target = max(0, workers)
        while len(self._running) > self.target:
            process = self._running.pop()
            process.send_signal(signal.SIGTERM)
            self._stopping.append((process, self.clock() + self.stop_timeout_s))
        self.reap()

    def close(self) -> None:
        """Stop every worker and wait for each to exit."""
        self.scale_to(0)
        for process, _ in self._stopping:
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._stopping = []


class LocalActuator:
    """The storefront's gunicorn and the order-worker pool, on this machine."""

    def __init__(self, gunicorn: GunicornWorkers, workers: WorkerPool) -> None:
        self.gunicorn = gunicorn
        self.workers = workers

    def replicas(self) -> ReplicaCounts:
        """Gunicorn's workers (ready = alive) and the pool's workers."""
        workers_ready = self.workers.ready()
        return ReplicaCounts(web_ready=self.gunicorn.ready(),
                             web_requested=self.gunicorn.requested(),
                             workers_ready=workers_ready,
                             workers_requested=self.workers.target)

    def scale(self, deployment: str, replicas: int, decision: Decision, current: int) -> None:
        """Change one side's process count and log the change with its reason."""
        if deployment == "web":
            self.gunicorn.scale_to(replicas)
        elif deployment == "workers":
            self.workers.scale_to(replicas)
        else:
            raise ValueError(f"unknown deployment {deployment!r}: expected web or workers")
        log.info("scaled %s from %d to %d: %s", deployment, current, replicas,
                 decision.reason.value)

    def is_leader(self) -> bool:
        """One machine, one scaler."""
        return True

    def close(self) -> None:
        """Stop the order workers this scaler started; gunicorn keeps running."""
        self.workers.close()
