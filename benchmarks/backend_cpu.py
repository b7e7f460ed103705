"""What a PostgreSQL server backend spent on each kind of statement, for the profilers.

Read from /proc/PID/schedstat (nanoseconds on the CPU, unlike /proc/PID/stat's 10 ms ticks)
before and after a statement on the backend that serves it: the benchmarks' servers run on
this machine.
"""

from __future__ import annotations

import re


def backend_ns(backend_pid: int) -> int:
    """CPU nanoseconds the backend process has run so far."""
    with open(f"/proc/{backend_pid}/schedstat") as schedstat:
        return int(schedstat.read().split()[0])


def statement_kind(sql: str, words: int = 4) -> str:
    """A statement's first words, whitespace folded: what its time is reported under."""
    return " ".join(re.sub(r"\s+", " ", sql).split()[:words])
