"""Which CPUs a load generator gets, and which are left to the servers it measures.

On a small machine the load generator competes with the servers for the same cores, and its
own lag then reads as the servers' latency. Benchmarks and rehearsals can put the load
generator on CPUs of its own (`--loadgen-cpus 1`) and the servers on the others, as separate
machines or containers with their own CPU would be in production. The parsing is pure; the
kernel's affinity calls stay with the callers.
"""

from __future__ import annotations

import os


class CpuListError(ValueError):
    """A CPU list that cannot be used here; the message names the problem and the fix."""


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (a container's cpuset, not the host's count)."""
    return set(os.sched_getaffinity(0))


def parse_cpu_list(text: str, usable: set[int]) -> set[int]:
    """'1', '2,3' or '2-3' -> the set of CPU numbers, each one of `usable`."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            low = int(first)
            high = int(last) if last else low
            if low > high:
                raise ValueError
            if high > max(usable):   # checked before a range as wide as '0-10**12' is built
                raise CpuListError(f"CPU {high} is not one this process may use: give CPUs "
                                   f"among {describe(usable)}")
            cpus.update(range(low, high + 1))
    except ValueError as problem:
        if isinstance(problem, CpuListError):
            raise
        raise CpuListError(f"{text!r} is not a list of CPU numbers: give e.g. 1, 2,3 or "
                           f"2-3") from None
    outside = sorted(cpus - usable)
    if outside:
        raise CpuListError(f"CPU {outside[0]} is not one this process may use: give CPUs "
                           f"among {describe(usable)}")
    return cpus


def servers_cpus(loadgen: set[int], usable: set[int]) -> set[int]:
    """The CPUs left to the servers once the load generator has `loadgen`; at least one."""
    left = usable - loadgen
    if not left:
        raise CpuListError(f"the load generator's CPUs {describe(loadgen)} leave none to the "
                           f"servers: leave at least one of {describe(usable)}")
    return left


def describe(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))
