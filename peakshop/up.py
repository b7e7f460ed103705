"""`peakshop up`: the whole loop on one machine, on the embedded default.

Migrates, seeds a demo shop on first run, then runs as child processes the storefront
(`peakshop serve`), the scaler in local mode (which keeps the order-worker pool, one worker at
rest) and stops them all cleanly on Ctrl-C or SIGTERM. The embedded Redis lives in this
process, so it outlives every child, and is shut down last: nothing `up` started survives it.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import click
from sqlalchemy import select

from common.readiness import port_is_free, wait_ready
from common.stop_signals import stop_signals
from shop.cli import ensure_redis, settings_or_exit
from shop.core.db import Database
from shop.core.migrate import upgrade
from shop.demo import DEMO_PASSWORD, seed_demo_shop
from shop.images.storage import store_for
from shop.merchants.models import Merchant

log = logging.getLogger("peakshop.up")
STOP_GRACE_S = 30
# An event announced on the back-office reaches the local scaler within this many seconds.
EVENTS_POLL_S = 5


def _peakshop(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "peakshop.cli", *arguments]


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _first_shop(database: Database) -> tuple[str, str] | None:
    with database.reading() as session:
        row = session.execute(select(Merchant.slug, Merchant.name)
                              .order_by(Merchant.id).limit(1)).first()
    return (row[0], row[1]) if row else None


def _child_environment(settings, instance: Path, pidfile: str) -> dict[str, str]:
    env = {**os.environ, "PEAKSHOP_BIND": settings.bind, "PEAKSHOP_PIDFILE": pidfile,
           "PEAKSHOP_INSTANCE_PATH": str(instance),
           # The scaler reads the events merchants announce through the ops API; without a
           # token of the user's, this run makes one that only its own children know.
           "PEAKSHOP_OPS_TOKEN": settings.ops_token or secrets.token_urlsafe(32)}
    # One terminal, one format: plain lines unless the user asked for JSON.
    env.setdefault("PEAKSHOP_LOG_JSON", "false")
    return env


@click.command("up")
@click.option("--scaler/--no-scaler", default=True,
              help="Run the scaler in local mode (default), or one fixed order worker.")
@click.option("--demo/--no-demo", default=True, help="Seed a demo shop on an empty database.")
def up_command(scaler: bool, demo: bool) -> None:
    """Run storefront, order workers and scaler together on this machine."""
    settings = settings_or_exit()
    host, _, port = settings.bind.rpartition(":")
    if not port_is_free(host.strip("[]"), int(port)):
        raise click.ClickException(
            f"{settings.bind} is already in use (another peakshop up, or another server): "
            f"stop it, or choose another address with PEAKSHOP_BIND=127.0.0.1:{int(port) + 1}")
    settings = ensure_redis(settings)
    instance = Path(settings.instance_path).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    try:
        sys.exit(_run(settings, instance, scaler=scaler, demo=demo))
    finally:
        from shop.core.redis import shutdown_embedded

        shutdown_embedded()


def _run(settings, instance: Path, *, scaler: bool, demo: bool) -> int:
    """Start, watch and stop the children; the exit status: 0 after Ctrl-C, 1 if one died."""
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    seeded = seed_demo_shop(database, store_for(settings)) if demo else None
    first_shop = _first_shop(database)
    database.dispose()

    url = f"http://{settings.bind}"
    pidfile = str(instance / "gunicorn.pid")
    env = _child_environment(settings, instance, pidfile)
    children: list[subprocess.Popen] = []
    with stop_signals() as stop:
        try:
            children.append(subprocess.Popen(_peakshop("serve"), env=env))
            if not wait_ready(url, children[0]):
                click.echo(f"peakshop: the storefront did not become ready at {url}: "
                           "see its log above", err=True)
                return 1
            if scaler:
                # No fixed port for the scaler's own /metrics: two `up`s may share a machine.
                children.append(subprocess.Popen(_peakshop(
                    "scaler", "run", "--target", "local", "--gunicorn-pidfile", pidfile,
                    "--metrics-url", url + "/metrics", "--min-replicas", "1",
                    "--events-from", url, "--events-poll-s", str(EVENTS_POLL_S),
                    "--scaler-metrics-port", "0"), env=env))
            else:
                children.append(subprocess.Popen(_peakshop("worker"), env=env))
            _announce(url, first_shop, seeded)
            return _watch(children, stop)
        finally:
            _stop(children)
            click.echo("peakshop stopped")


def _announce(url: str, first_shop: tuple[str, str] | None, seeded) -> None:
    click.echo(f"\npeakshop is up: {url}/")
    if first_shop:
        slug, name = first_shop
        click.echo(f"  shop:           {url}/shops/{slug}/  ({name})")
    if seeded:
        slug, email, token = seeded
        click.echo(f"  merchant login: {email} / {DEMO_PASSWORD}")
        click.echo(f"  merchant token: {token}")
    click.echo("  Ctrl-C stops everything.\n")


def _watch(children: list[subprocess.Popen], stop) -> int:
    """Wait for Ctrl-C/SIGTERM (0) or a child's death (1)."""
    while not stop.wait(0.5):
        for child in children:
            if child.poll() is not None:
                click.echo(f"peakshop: {' '.join(child.args[3:])} exited with status "
                           f"{child.returncode}; stopping the rest", err=True)
                return 1
    return 0
