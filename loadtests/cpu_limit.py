"""A CPU limit on the rehearsal's gunicorn, as Kubernetes puts one on the web container.

On a laptop or a CI machine one gunicorn worker may serve a whole surge by itself, so a
rehearsal never offers "several times the capacity". In production the web container runs
under a CFS quota (`resources.limits.cpu`) and the gate is a container with its own limit.
`peakshop rehearse --web-cpu-limit CORES` models that: gunicorn's master and every worker
(those forked later on SIGTTIN too: a fork inherits its parent's cgroup) run in a CPU cgroup
of their own with a quota of CORES, while the gate, Locust, Redis and the order workers stay
outside it. The cgroup is created for one run and removed at its end.

Both cgroup layouts are supported: v1 (`cpu.cfs_quota_us` and `cpu.cfs_period_us` in the
`cpu` hierarchy) and v2 (`cpu.max`, "<quota> <period>", in the unified hierarchy); which one
this machine has is read from /proc/mounts. The parsing and the file contents are pure
functions; `CpuCgroup` does the writes.
"""

from __future__ import annotations

import errno
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

# The kernel's default CFS period; the quota is CORES of it.
PERIOD_US = 100_000
# The kernel refuses a quota under 1 ms per period.
SMALLEST_CORES = 0.01
PROCS = "cgroup.procs"
FIX = ("run the rehearsal as root on a machine with a cgroup v1 `cpu` or v2 `cpu` controller "
       "mounted read-write, or drop --web-cpu-limit")


class CpuLimitUnavailable(Exception):
    """No writable CPU cgroup here; the message names the problem and the fix."""


@dataclass(frozen=True)
class CpuHierarchy:
    """Where a CPU controller is mounted: cgroup `version` 1 or 2 at `root`."""

    version: int
    root: Path


def cpu_hierarchies(mounts: str) -> list[CpuHierarchy]:
    """The mounts of /proc/mounts (`mounts`, its text) that can hold a CPU cgroup: each v1
    hierarchy with the `cpu` controller, then each v2 hierarchy (whether v2 offers `cpu`
    shows only in its cgroup.controllers file). Pure."""
    version_1, version_2 = [], []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount_point, fs_type, options = fields[1], fields[2], fields[3].split(",")
        if fs_type == "cgroup" and "cpu" in options:
            version_1.append(CpuHierarchy(1, Path(mount_point)))
        elif fs_type == "cgroup2":
            version_2.append(CpuHierarchy(2, Path(mount_point)))
    return version_1 + version_2


def quota_files(version: int, cores: float, period_us: int = PERIOD_US) -> dict[str, str]:
    """The files to write, in order, and their contents, for a quota of `cores`. Pure."""
    quota_us = max(1000, round(cores * period_us))
    if version == 1:
        return {"cpu.cfs_period_us": str(period_us), "cpu.cfs_quota_us": str(quota_us)}
    return {"cpu.max": f"{quota_us} {period_us}"}


def cores_of(version: int, files: dict[str, str]) -> float | None:
    """The cores a cgroup's quota files (name -> text) allow; None when unlimited. Pure."""
    if version == 1:
        quota = int(files["cpu.cfs_quota_us"])
        return None if quota < 0 else quota / int(files["cpu.cfs_period_us"])
    quota, period = files["cpu.max"].split()
    return None if quota == "max" else int(quota) / int(period)


def throttling(version: int, cpu_stat: str) -> dict[str, float]:
    """Periods, throttled periods and seconds throttled from a cgroup's `cpu.stat`. Pure."""
    values = {}
    for line in cpu_stat.splitlines():
        name, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[name] = int(value)
    throttled_s = (values.get("throttled_time", 0) / 1e9 if version == 1
                   else values.get("throttled_usec", 0) / 1e6)
    return {"periods": values.get("nr_periods", 0),
            "throttled_periods": values.get("nr_throttled", 0),
            "throttled_s": round(throttled_s, 3)}


def check_cores(cores: float) -> str | None:
    """Why `cores` cannot be a limit (one line naming the fix), or None. Pure."""
    if not (math.isfinite(cores) and cores >= SMALLEST_CORES):
        return (f"--web-cpu-limit must be a number of cores of at least {SMALLEST_CORES:g} "
                f"(the kernel's smallest quota is 1 ms per 100 ms): got {cores:g}")
    return None


def _offers_cpu(hierarchy: CpuHierarchy) -> bool:
    if not os.access(hierarchy.root, os.W_OK):
        return False
    if hierarchy.version == 1:
        return (hierarchy.root / "cpu.cfs_quota_us").is_file()
    try:
        return "cpu" in (hierarchy.root / "cgroup.controllers").read_text().split()
    except OSError:
        return False


def find_hierarchy(mounts_path: str = "/proc/mounts") -> CpuHierarchy:
    """The first writable hierarchy with a CPU controller; raises CpuLimitUnavailable."""
    try:
        mounts = Path(mounts_path).read_text()
    except OSError as problem:
        raise CpuLimitUnavailable(f"cannot read {mounts_path} ({problem.strerror}) to find "
                                  f"a CPU cgroup: {FIX}") from None
    candidates = cpu_hierarchies(mounts)
    for hierarchy in candidates:
        if _offers_cpu(hierarchy):
            return hierarchy
    found = ", ".join(f"v{h.version} at {h.root}" for h in candidates) or "none mounted"
    raise CpuLimitUnavailable(f"no writable CPU cgroup for --web-cpu-limit ({found}): {FIX}")


class CpuCgroup:
    """One CPU cgroup with a quota, made for one run: `add` processes, `remove` at the end."""

    def __init__(self, hierarchy: CpuHierarchy, name: str, cores: float) -> None:
        self.hierarchy = hierarchy
        self.cores = cores
        self.path = hierarchy.root / name
        self.stats: dict[str, float] | None = None

    @classmethod
    def create(cls, cores: float, name: str | None = None,
               hierarchy: CpuHierarchy | None = None) -> CpuCgroup:
        """Make the cgroup and write its quota; raises CpuLimitUnavailable."""
        hierarchy = hierarchy or find_hierarchy()
        cgroup = cls(hierarchy, name or f"peakshop-rehearsal-{os.getpid()}", cores)
        try:
            if hierarchy.version == 2:
                # A v2 child gets the cpu files only once its parent hands the controller down.
                (hierarchy.root / "cgroup.subtree_control").write_text("+cpu")
            cgroup.path.mkdir()
            for file, content in quota_files(hierarchy.version, cores).items():
                (cgroup.path / file).write_text(content)
        except OSError as problem:
            cgroup.remove()
            raise CpuLimitUnavailable(f"cannot make the CPU cgroup {cgroup.path} "
                                      f"({problem.strerror}): {FIX}") from None
        return cgroup

    def add(self, pid: int) -> None:
        """Move process `pid` (all its threads) into the cgroup; its later forks follow."""
        (self.path / PROCS).write_text(str(pid))

    def add_tree(self, pid: int, children_of) -> list[int]:
        """Move `pid`, then its children (`children_of(pid)`): a child forked in between is
        already inside, since it inherits its parent's cgroup. Returns the pids moved."""
        moved = []
        for member in [pid, *children_of(pid)]:
            try:
                self.add(member)
                moved.append(member)
            except ProcessLookupError:
                pass  # exited in the meantime
            except OSError as problem:
                if problem.errno != errno.ESRCH:
                    raise
        return moved

    def pids(self) -> list[int]:
        return [int(line) for line in (self.path / PROCS).read_text().split()]

    def limit_cores(self) -> float | None:
        """The quota as the kernel holds it (read back from the files)."""
        names = quota_files(self.hierarchy.version, self.cores)
        return cores_of(self.hierarchy.version,
                        {name: (self.path / name).read_text() for name in names})

    def read_stats(self) -> dict[str, float] | None:
        """How often the quota held gunicorn back (kept for the report after `remove`);
        None when the kernel offers no cpu.stat."""
        try:
            self.stats = throttling(self.hierarchy.version,
                                    (self.path / "cpu.stat").read_text())
        except OSError:
            self.stats = None
        return self.stats

    def remove(self, timeout_s: float = 5.0) -> None:
        """Move what is still inside to the parent, then delete the cgroup; idempotent."""
        if not self.path.is_dir():
            return
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                for pid in self.pids():
                    try:
                        (self.hierarchy.root / PROCS).write_text(str(pid))
                    except OSError:
                        pass  # exited meanwhile
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as problem:
                # EBUSY while an exiting process is still counted: try again briefly.
                if problem.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
