"""Work that a fork must not cut in two: gunicorn's master forks workers while its own threads
(the metrics port) are running.

fork() copies every lock of the parent as it is at that instant, and only the forking thread
into the child. A lock that another thread of the master held at that instant stays held in
the worker for ever, by a thread that does not exist there: the worker's first request that
needs it hangs until gunicorn's timeout kills it. That is what a scrape of the master's
metrics port did to a worker forked beside it: SQLAlchemy's mapper-configuration lock, taken
by the master's first ORM query, was held in the new worker for good, and its first
`/metrics` (the same query) waited on it until the worker was killed. Any library lock could
be next (the connection pools', SQLite's own mutexes), so the master's threads do their work
under this guard and a fork waits for it to end rather than copy a lock mid-use.

A fork waits at most FORK_WAIT_S: gunicorn replacing a dead worker or adding one on the
scaler's TTIN must not stall behind a scrape stuck on an unreachable database. Past that it
forks anyway and says so in the log (the worker it makes may then hang; gunicorn's timeout
replaces it, and the worker's stack is logged when it does).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

FORK_WAIT_S = 10.0


class ForkGuard:
    """Held by a thread while it works; `os.fork` in any thread of this process takes it first."""

    def __init__(self, fork_wait_s: float = FORK_WAIT_S) -> None:
        self.fork_wait_s = fork_wait_s
        self._lock = threading.Lock()
        self._taken_by_fork = False

    @contextmanager
    def held(self) -> Iterator[None]:
        """Run the block with no fork of this process beginning before it ends."""
        with self._lock:
            yield

    def before_fork(self) -> None:
        self._taken_by_fork = self._lock.acquire(timeout=self.fork_wait_s)
        if not self._taken_by_fork:
            log.warning("forking while a thread of this process is still busy after %.0f s "
                        "(the metrics port's scrape?): the new process may hang on a lock it "
                        "copied held; gunicorn's timeout would replace it", self.fork_wait_s)

    def after_fork_in_parent(self) -> None:
        if self._taken_by_fork:
            self._taken_by_fork = False
            self._lock.release()

    def after_fork_in_child(self) -> None:
        # The child's copy is held by this (the forking) thread, or by a thread the child
        # does not have: either way a new lock is the only true state.
        self._lock = threading.Lock()
        self._taken_by_fork = False


fork_guard = ForkGuard()
os.register_at_fork(before=fork_guard.before_fork,
                    after_in_parent=fork_guard.after_fork_in_parent,
                    after_in_child=fork_guard.after_fork_in_child)
