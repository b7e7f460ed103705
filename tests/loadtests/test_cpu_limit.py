"""`peakshop rehearse --web-cpu-limit`: gunicorn in a CPU cgroup of its own, as a Kubernetes
CPU limit puts the web container.

The parsing and file contents are checked as pure functions; the cgroup itself is the kernel's
real one (v1 `cpu` or v2 `cpu.max`, whichever this machine mounts), so those tests need root
and a writable hierarchy and are skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests import cpu_limit, processes
from loadtests.cpu_limit import (
    CpuCgroup,
    CpuHierarchy,
    CpuLimitUnavailable,
    cores_of,
    cpu_hierarchies,
    find_hierarchy,
    quota_files,
    throttling,
)
from tests.loadtests.test_rehearse import rehearse, short_trace

HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V2_MOUNTS = "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n"


def writable_hierarchy() -> CpuHierarchy:
    try:
        return find_hierarchy()
    except CpuLimitUnavailable as problem:
        pytest.skip(f"needs a writable CPU cgroup (root): {problem}")


# --- pure parts --------------------------------------------------------------------------------
def test_v1_cpu_hierarchies_come_before_v2_and_cpuacct_alone_is_not_one():
    assert cpu_hierarchies(HYBRID_MOUNTS) == [
        CpuHierarchy(1, Path("/sys/fs/cgroup/cpu")),
        CpuHierarchy(2, Path("/sys/fs/cgroup/unified"))]
    # The combined mount of older distributions names both controllers.
    combined = "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
    assert cpu_hierarchies(combined) == [CpuHierarchy(1, Path("/sys/fs/cgroup/cpu,cpuacct"))]
    assert cpu_hierarchies(V2_MOUNTS) == [CpuHierarchy(2, Path("/sys/fs/cgroup"))]
    assert cpu_hierarchies("proc /proc proc rw 0 0\n\nshort line\n") == []


def test_quota_files_hold_the_cores_of_a_100_ms_period():
    assert quota_files(1, 0.25) == {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "25000"}
    assert quota_files(2, 1.5) == {"cpu.max": "150000 100000"}
    assert quota_files(2, 0.001) == {"cpu.max": "1000 100000"}   # the kernel's smallest
    assert cores_of(1, quota_files(1, 0.25)) == 0.25
    assert cores_of(2, quota_files(2, 1.5)) == 1.5
    assert cores_of(1, {"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"}) is None
    assert cores_of(2, {"cpu.max": "max 100000\n"}) is None


def test_throttling_reads_both_layouts():
    v1 = "nr_periods 40\nnr_throttled 12\nthrottled_time 1500000000\nnr_bursts 0\n"
    v2 = ("usage_usec 9\nuser_usec 5\nsystem_usec 4\nnr_periods 40\nnr_throttled 12\n"
          "throttled_usec 1500000\n")
    expected = {"periods": 40, "throttled_periods": 12, "throttled_s": 1.5}
    assert throttling(1, v1) == expected
    assert throttling(2, v2) == expected
    assert throttling(2, "") == {"periods": 0, "throttled_periods": 0, "throttled_s": 0.0}


@pytest.mark.parametrize("cores", [0, -1, 0.005, float("nan"), float("inf")])
def test_cores_below_the_kernels_smallest_quota_are_refused(cores):
    assert "--web-cpu-limit must be a number of cores of at least 0.01" in \
        cpu_limit.check_cores(cores)


def test_no_writable_hierarchy_is_one_line_naming_the_fix(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    with pytest.raises(CpuLimitUnavailable, match="none mounted.*drop --web-cpu-limit"):
        find_hierarchy(str(mounts))
    # A "cpu" hierarchy without the quota files (a folder, not the kernel's) is no use either.
    mounts.write_text(f"cgroup {tmp_path} cgroup rw,cpu 0 0\n")
    with pytest.raises(CpuLimitUnavailable, match=f"v1 at {tmp_path}"):
        find_hierarchy(str(mounts))
    with pytest.raises(CpuLimitUnavailable, match="cannot read"):
        find_hierarchy(str(tmp_path / "missing"))


# --- the CLI -----------------------------------------------------------------------------------
def test_a_bad_limit_is_refused_before_anything_starts(tmp_path):
    completed = rehearse("--trace", "flash-sale", "--web-cpu-limit", "0",
                         "--report", str(tmp_path / "report"))
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "at least 0.01" in lines[0], completed.stderr
    assert not (tmp_path / "report").exists()


def test_without_a_writable_cgroup_the_rehearsal_refuses_to_start(tmp_path):
    """The case of a laptop or an unprivileged container, where the cgroup mounts are
    read-only: its closest stand-in here is a private mount namespace (`unshare -m`) in which
    every CPU hierarchy is remounted read-only. The run stops with one line and status 2
    before any process starts."""
    hierarchies = cpu_hierarchies(Path("/proc/mounts").read_text())
    remounts = " && ".join(f"mount -o remount,bind,ro {h.root}" for h in hierarchies)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", remounts or "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot remount the cgroups read-only in a namespace: {probe.stderr}")
    report = tmp_path / "report"
    command = (f"{remounts or 'true'} && exec {sys.executable} -m peakshop.cli rehearse "
               f"--trace flash-sale --web-cpu-limit 0.5 --report {report}")
    completed = subprocess.run(["unshare", "-m", "sh", "-c", command],
                               cwd=Path(__file__).resolve().parents[2], capture_output=True,
                               text=True, timeout=60,
                               env={**os.environ, "PEAKSHOP_REDIS_URL": ""})
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "no writable CPU cgroup" in lines[0], completed.stderr
    assert "drop --web-cpu-limit" in lines[0]
    assert not report.exists()


# --- the real cgroup ---------------------------------------------------------------------------
def test_a_process_and_its_later_forks_run_under_the_quota_and_the_cgroup_goes_away():
    hierarchy = writable_hierarchy()
    cgroup = CpuCgroup.create(0.2, name=f"peakshop-test-{os.getpid()}", hierarchy=hierarchy)
    # A parent that forks a busy child only when told: the child must inherit the cgroup.
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         "sys.stdin.readline()\n"
         "busy = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
         "print(busy.pid, flush=True)\n"
         "busy.wait()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    busy_pid = None
    try:
        assert cgroup.add_tree(parent.pid, processes.children_of) == [parent.pid]
        parent.stdin.write("go\n")
        parent.stdin.flush()
        busy_pid = int(parent.stdout.readline())
        assert {parent.pid, busy_pid} <= set(cgroup.pids())
        assert cgroup.limit_cores() == 0.2
        quota = quota_files(hierarchy.version, 0.2)
        for name, content in quota.items():
            assert (cgroup.path / name).read_text().strip() == content
        line = next(entry for entry in Path(f"/proc/{busy_pid}/cgroup").read_text().splitlines()
                    if cgroup.path.name in entry)
        assert line.endswith("/" + cgroup.path.name)
        # The quota's accounting ran: periods are counted once the busy child used CPU inside.
        processes.wait_for(lambda: (processes.cpu_seconds(busy_pid) or 0) >= 0.05, 30)
        assert cgroup.read_stats()["periods"] > 0
    finally:
        cgroup.remove()
        if busy_pid:
            os.kill(busy_pid, 9)
        parent.kill()
        parent.communicate()
    assert not cgroup.path.exists()
    cgroup.remove()     # again: nothing to do


@pytest.mark.slow
def test_a_rehearsal_limits_gunicorn_not_the_gate_and_removes_its_cgroup(tmp_path):
    """A short real rehearsal behind the gate: while it runs, gunicorn's master and worker are
    in the cgroup and the gate is not; the summary records the limit; nothing is left."""
    hierarchy = writable_hierarchy()
    report = tmp_path / "report"
    run = subprocess.Popen(
        [sys.executable, "-m", "peakshop.cli", "rehearse", "--trace",
         str(short_trace(tmp_path)), "--report", str(report), "--no-scaler", "--gate",
         "--web-cpu-limit", "0.5", "--drain-timeout", "120"],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "PEAKSHOP_REDIS_URL": ""})
    folder = hierarchy.root / f"peakshop-rehearsal-{run.pid}"
    try:
        # Master first, then its worker: both once the storefront is ready.
        assert processes.wait_for(lambda: (folder / "cgroup.procs").is_file()
                                  and len((folder / "cgroup.procs").read_text().split()) >= 2,
                                  120)
        inside = {int(pid) for pid in (folder / "cgroup.procs").read_text().split()}
        gate = next(pid for pid in processes.children_of(run.pid)
                    if b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes())
        gunicorn = processes.children_of(gate)
        assert gate not in inside
        assert gunicorn and set(gunicorn) <= inside
        assert set(processes.children_of(gunicorn[0])) <= inside    # its worker
        output, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, output[-3000:]
    assert not folder.exists()
    summary = json.loads((report / "summary.json").read_text())
    limit = summary["web_cpu_limit"]
    assert limit["cores"] == 0.5 and limit["cgroup"] == hierarchy.version
    assert limit["periods"] > 0 and limit["gunicorn_cpu_s"] > 0
    assert summary["orders_confirmed"] == summary["orders_placed"] >= 1
    assert "gunicorn's CPU limit 0.5 cores" in output


@pytest.mark.slow
def test_ctrl_c_mid_load_removes_the_cgroup(tmp_path):
    hierarchy = writable_hierarchy()
    report = tmp_path / "report"
    run = subprocess.Popen(
        [sys.executable, "-m", "peakshop.cli", "rehearse", "--trace",
         str(short_trace(tmp_path, seconds=300)), "--report", str(report), "--no-scaler",
         "--web-cpu-limit", "0.5"],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "PEAKSHOP_REDIS_URL": ""})
    folder = hierarchy.root / f"peakshop-rehearsal-{run.pid}"
    timeline = report / "locust-timeline.jsonl"
    try:
        assert processes.wait_for(lambda: timeline.exists()
                                  and len(timeline.read_text().splitlines()) >= 3, 180)
        inside = (folder / "cgroup.procs").read_text().split()
        assert len(inside) >= 2        # gunicorn's master and worker, under load
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, output[-3000:]
    assert "Traceback" not in output
    assert not folder.exists()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["web_cpu_limit"]["cores"] == 0.5
