"""`peakshop up`: the whole loop on one machine, on the embedded default.

Migrates, seeds a demo shop on first run, then runs as child processes the storefront
(`peakshop serve`), the scaler in local mode (which keeps the order-worker pool, one worker at
rest) and stops them all cleanly on Ctrl-C or SIGTERM. The embedded Redis lives in this
process, so it outlives every child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from shop.cli import ensure_redis, settings_or_exit
from shop.core.db import Database
from shop.core.migrate import upgrade
from shop.demo import seed_demo_shop

READY_DEADLINE_S = 60


def _peakshop(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "shop.cli", *arguments]


def wait_ready(url: str, server: subprocess.Popen) -> bool:
    """Whether the storefront at `url` answered /readyz before READY_DEADLINE_S, while
    its process `server` kept running."""
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@click.command("up")
@click.option("--scaler/--no-scaler", default=True,
              help="Run the scaler in local mode (default), or one fixed order worker.")
@click.option("--demo/--no-demo", default=True, help="Seed a demo shop on an empty database.")
def up_command(scaler: bool, demo: bool) -> None:
    """Run storefront, order workers and scaler together on this machine."""
    settings = ensure_redis(settings_or_exit())
    instance = Path(settings.instance_path).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    seeded = seed_demo_shop(Database(settings.database_url)) if demo else None

    url = f"http://{settings.bind}"
    pidfile = str(instance / "gunicorn.pid")
    env = {**os.environ, "PEAKSHOP_BIND": settings.bind, "PEAKSHOP_PIDFILE": pidfile,
           "PEAKSHOP_INSTANCE_PATH": str(instance)}
    children = [subprocess.Popen(_peakshop("serve"), env=env)]
    stopping = False

    def request_stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if not wait_ready(url, children[0]):
        _stop(children)
        raise click.ClickException(f"the storefront did not become ready at {url}: "
                                   "see its log above")
    if scaler:
        children.append(subprocess.Popen(_peakshop(
            "scaler", "run", "--target", "local", "--gunicorn-pidfile", pidfile,
            "--metrics-url", url + "/metrics", "--min-replicas", "1"), env=env))
    else:
        children.append(subprocess.Popen(_peakshop("worker"), env=env))

    click.echo(f"\npeakshop is up: {url}/")
    if seeded:
        slug, email, token = seeded
        click.echo(f"  demo shop:      {url}/shops/{slug}/")
        click.echo(f"  merchant login: {email} / demo-password")
        click.echo(f"  merchant token: {token}")
    click.echo("  Ctrl-C stops everything.\n")
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    click.echo(f"peakshop: {' '.join(child.args[3:])} exited with status "
                               f"{child.returncode}; stopping the rest", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop(children)
    click.echo("peakshop stopped")
