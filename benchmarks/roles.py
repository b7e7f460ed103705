"""Installed size and start-up import time of each role's install, side by side.

    python -m benchmarks.roles [--roles web,scaler,loadtest,backup,all] [--before REV]

For each role, a fresh virtualenv gets exactly `requirements/requirements-<role>.txt` and
the project (not editable), then: the virtualenv's size on disk, and the median wall time
(and CPU time) of the role's start-up imports, measured in fresh interpreters. `--before REV`
measures the same for the project at git revision REV installed with every dependency it
declared (the single install every pod carried before the roles were split), pinned to the
same versions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What each role imports at start-up (the command's own module), and the liveness probe.
STARTUP = {
    "web": ["shop.wsgi_app_import", "peakshop worker --check"],
    "scaler": ["scaler.run_command"],
    "loadtest": ["loadtests.locustfile"],
    "backup": ["shop.cli"],
    "all": ["shop.wsgi_app_import", "scaler.run_command", "loadtests.locustfile",
            "peakshop worker --check"],
}
REPEATS = 5


def size_mb(path: Path) -> float:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            candidate = os.path.join(folder, name)
            if not os.path.islink(candidate):
                total += os.path.getsize(candidate)
    return total / 1e6


def install(venv: Path, lock: Path | None, project: Path, constraints: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    quiet = {"stderr": subprocess.DEVNULL}
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    if lock is not None:
        subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(lock)], check=True,
                       **quiet)
        subprocess.run([*pip, "--no-deps", str(project)], check=True, **quiet)
    else:  # everything the project declared, at the versions of today's lock
        constraint_file = venv / "constraints.txt"
        pins = {}
        for line in constraints.read_text().splitlines():
            requirement = line.rstrip(" \\")
            # Pins for other Pythons carry a marker; this interpreter takes the plain ones.
            if "==" in requirement and not line.startswith((" ", "#")) and ";" not in line:
                pins.setdefault(requirement.split("==")[0], requirement)
        constraint_file.write_text("".join(pin + "\n" for pin in pins.values()))
        subprocess.run([*pip, "-c", str(constraint_file), str(project)], check=True)


def startup_seconds(venv: Path, what: str, workdir: Path) -> tuple[float, float]:
    """Median wall and CPU seconds of `what` in a fresh interpreter of `venv`."""
    python = str(venv / "bin" / "python")
    if what.startswith("peakshop "):
        command = [str(venv / "bin" / "peakshop"), *what.split()[1:]]
    elif what == "shop.wsgi_app_import":
        command = [python, "-c", "from shop import create_app"]
    else:
        command = [python, "-c", f"import {what}"]
    walls, cpus = [], []
    env = {"PATH": "/usr/bin:/bin", "PEAKSHOP_INSTANCE_PATH": str(workdir / "instance"),
           "HOME": str(workdir), "MPLCONFIGDIR": str(workdir / "mpl")}
    for _ in range(REPEATS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=workdir, env=env, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def measure(name: str, lock: Path | None, project: Path, startup: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="peakshop-role-") as folder:
        venv = Path(folder) / "venv"
        install(venv, lock, project, ROOT / "requirements" / "requirements-test.txt")
        result = {"role": name, "installed_mb": round(size_mb(venv), 1), "startup": {}}
        for what in startup:
            wall, cpu = startup_seconds(venv, what, Path(folder))
            result["startup"][what] = {"wall_ms": round(wall * 1000), "cpu_ms": round(cpu * 1000)}
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", default="web,scaler,loadtest,backup,all")
    parser.add_argument("--before", metavar="REV",
                        help="also measure the single install of revision REV")
    options = parser.parse_args()
    results = []
    if options.before:
        with tempfile.TemporaryDirectory(prefix="peakshop-before-") as checkout:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", checkout,
                            options.before], check=True, capture_output=True)
            try:
                before_startup = ["shop.wsgi_app_import", "scaler.run_command",
                                  "loadtests.locustfile", "peakshop worker --check"]
                results.append(measure(f"before ({options.before}, one install)", None,
                                       Path(checkout), before_startup))
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                checkout], check=False)
    for role in options.roles.split(","):
        lock = ROOT / "requirements" / f"requirements-{role}.txt"
        results.append(measure(role, lock, ROOT, STARTUP[role]))
        print(json.dumps(results[-1]), flush=True)
    print(f"{'install':<34} {'MB':>7}  start-up (median wall ms / CPU ms)")
    for result in results:
        startup = ", ".join(f"{what}: {m['wall_ms']}/{m['cpu_ms']}"
                            for what, m in result["startup"].items())
        print(f"{result['role']:<34} {result['installed_mb']:>7}  {startup}")


if __name__ == "__main__":
    main()
