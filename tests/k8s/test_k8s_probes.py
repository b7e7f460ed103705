"""The Locust worker's exec probe runs for real: the command taken from the rendered manifest
is executed against the state it judges, a TCP connection to a Locust master, made inside a
private network namespace so that no other program's port 5557 interferes. (The order
worker's probe runs against a live worker in tests/test_container_commands.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from k8s_manifests import find


def probe_command(objects, deployment, probes):
    """The one exec command all of `probes` run (a probe process costs a second here)."""
    spec = find(objects, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    commands = {tuple(spec[probe]["exec"]["command"]) for probe in probes}
    assert len(commands) == 1, f"{deployment}: the probes differ: {commands}"
    return local_command(list(commands.pop())), spec


def local_command(command):
    """The image's command line, run with this checkout's interpreter and code."""
    if command[0] == "python":
        return [sys.executable, *command[1:]]
    raise AssertionError(f"unexpected probe command {command}")


# Runs inside a private network namespace, where Locust's port 5557 is surely free.
MASTER_CONNECTION_SCENARIO = """
import json, socket, subprocess, sys
command = json.loads(sys.argv[1])
probe = lambda: subprocess.run(command, capture_output=True, timeout=30).returncode
master = socket.socket()
master.bind(("127.0.0.1", 5557))
master.listen()
before = probe()
client = socket.create_connection(("127.0.0.1", 5557))
accepted, _ = master.accept()
during = probe()
print(json.dumps({"before": before, "during": during}))
"""


def test_locust_worker_probes_follow_the_master_connection(rendered):
    """Pass only while a connection to the master's port (5557) is established."""
    command, _ = probe_command(rendered("loadtest"), "peakshop-locust-worker",
                               ["livenessProbe", "readinessProbe"])
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2) for a private network")
    completed = subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
         sys.executable, "-c", MASTER_CONNECTION_SCENARIO, json.dumps(command)],
        capture_output=True, text=True, timeout=60)
    if completed.returncode != 0 and "Operation not permitted" in completed.stderr:
        pytest.skip("no permission to create a network namespace here")
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout)
    assert outcome["before"] != 0, "no connection to the master must fail"
    assert outcome["during"] == 0, "an established connection to the master must pass"
