"""Stop signals arriving in a burst (Ctrl-C reaches the whole process group while a parent
also sends SIGTERM) stop a process once and never hang it. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from common.stop_signals import stop_signals

REPO_ROOT = Path(__file__).resolve().parents[2]

# Keeps its main thread inside Event.set() as much as possible: where a handler that sets an
# Event itself deadlocks when a second signal lands.
BUSY_PROCESS = textwrap.dedent('''
    import signal
    import threading
    from common.stop_signals import stop_signals

    # What the block restores on leaving: the rest of the burst, still in flight after the
    # stop, must not kill the process while it reports.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seen = []
    with stop_signals(on_stop=seen.append) as stop:
        print("ready", flush=True)
        other = threading.Event()
        while not stop.is_set():
            other.set()
            other.clear()
    print("stopped by", [int(signum) for signum in seen], flush=True)
''')


@pytest.mark.parametrize("round_", range(3))
def test_a_burst_of_sigint_and_sigterm_stops_the_process_once(round_):
    process = subprocess.Popen([sys.executable, "-c", BUSY_PROCESS], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        assert process.stdout.readline().strip() == "ready"
        for _ in range(100):
            for signum in (signal.SIGINT, signal.SIGTERM):
                if process.poll() is None:
                    process.send_signal(signum)
        output, _ = process.communicate(timeout=60)   # a hung process fails here
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert output.strip() in ("stopped by [2]", "stopped by [15]")


def test_leaving_the_block_restores_the_handlers_and_the_wakeup_fd():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with stop_signals() as stop:
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert not stop.is_set()
    assert {signum: signal.getsignal(signum) for signum in before} == before
    previous_fd = signal.set_wakeup_fd(-1)
    assert previous_fd == -1


def test_a_signal_inside_the_block_sets_the_event_in_this_process():
    reasons = []
    with stop_signals(on_stop=reasons.append) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(30)
    # on_stop runs right after the Event is set, in the watcher thread.
    import time
    deadline = time.monotonic() + 30
    while not reasons and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reasons == [signal.SIGTERM]
