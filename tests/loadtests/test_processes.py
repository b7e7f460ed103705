"""Child processes of a rehearsal: sessions, /proc readings, clean stops, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loadtests import processes


def gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_stop_takes_the_whole_session_down(tmp_path):
    """A child that left a grandchild running in its session: stop() ends both."""
    child = processes.start("shell", ["sh", "-c", "sleep 300 & echo started; wait"],
                            env=os.environ, log_path=tmp_path / "shell.log")
    assert processes.wait_for(lambda: processes.children_of(child.pid), 30)
    grandchild = processes.children_of(child.pid)[0]
    assert set(processes.session_members(child.pid)) == {child.pid, grandchild}
    child.stop(timeout_s=10)
    assert processes.wait_for(lambda: gone(grandchild), 30)
    assert processes.session_members(child.pid) == []
    assert "started" in (tmp_path / "shell.log").read_text()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to choose from")
def test_a_child_started_on_given_cpus_keeps_them_and_so_do_its_forks(tmp_path):
    cpu = max(os.sched_getaffinity(0))
    child = processes.start("pinned", ["sh", "-c", "sleep 300 & wait"], env=os.environ,
                            log_path=tmp_path / "pinned.log", cpus={cpu})
    try:
        assert processes.wait_for(lambda: processes.children_of(child.pid), 30)
        grandchild = processes.children_of(child.pid)[0]
        assert processes.cpus_of(child.pid) == [cpu]
        assert processes.cpus_of(grandchild) == [cpu]
        assert os.sched_getaffinity(0) != {cpu}   # the parent keeps its own
    finally:
        child.stop(timeout_s=10)
    assert processes.cpus_of(child.pid) is None   # gone: no CPUs to read


def test_a_child_that_ignores_sigterm_is_killed(tmp_path):
    child = processes.start("stubborn", [sys.executable, "-c",
                                         "import signal, time; "
                                         "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                         "print('ready', flush=True); time.sleep(300)"],
                            env=os.environ, log_path=tmp_path / "stubborn.log")
    assert processes.wait_for(lambda: "ready" in (tmp_path / "stubborn.log").read_text(), 30)
    assert child.stop(timeout_s=0.5) == -signal.SIGKILL


def test_children_die_with_a_crashed_parent(tmp_path):
    """The kernel sends SIGTERM to a child whose rehearsal was SIGKILLed."""
    parent_code = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from loadtests import processes
        child = processes.start("sleeper", ["sleep", "300"], env=os.environ,
                                log_path=Path({str(tmp_path / 'sleeper.log')!r}))
        print(child.pid, flush=True)
        time.sleep(300)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[2])
    child_pid = int(parent.stdout.readline())
    assert not gone(child_pid)
    parent.kill()
    parent.wait()
    parent.stdout.close()
    assert processes.wait_for(lambda: gone(child_pid), 30)


def test_cpu_of_a_process_tree_includes_finished_children(tmp_path):
    """So a gunicorn master's CPU does not drop when it retires a worker."""
    child = processes.start("busy", [sys.executable, "-c",
                                     "import subprocess, sys\n"
                                     "subprocess.run([sys.executable, '-c', "
                                     "'sum(range(3_000_000))'])\n"
                                     "print('done', flush=True)\n"
                                     "import time; time.sleep(300)"],
                            env=os.environ, log_path=tmp_path / "busy.log")
    assert processes.wait_for(lambda: "done" in (tmp_path / "busy.log").read_text(), 60)
    # The finished grandchild's CPU now counts in the child's reaped-children time.
    assert processes.tree_cpu_seconds(child.pid) > processes.cpu_seconds(child.pid) > 0
    child.stop(timeout_s=10)
    assert processes.cpu_seconds(child.pid) is None
