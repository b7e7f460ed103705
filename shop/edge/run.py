"""`peakshop gate` (the gate alone, e.g. beside gunicorn in a Kubernetes pod) and
`peakshop serve --gate` (gunicorn on a private address, the gate on the public one)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys

import click
import psutil

from shop.core.settings import ConfigError, Settings
from shop.edge.server import serve
from shop.edge.settings import GateSettings, check_upstream, load_gate_settings

log = logging.getLogger(__name__)
GUNICORN_READY_S = 60.0     # importing the app and a first database connection
GUNICORN_STOP_S = 40.0      # gunicorn's graceful timeout is 25 s


def gate_settings_or_exit(app: Settings) -> GateSettings:
    try:
        return check_upstream(load_gate_settings(app))
    except ConfigError as problem:
        click.echo(f"peakshop: {problem}", err=True)
        sys.exit(2)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


def run_gate(settings: GateSettings) -> None:
    """The gate alone, in front of whatever answers on PEAKSHOP_GATE_UPSTREAM."""
    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await serve(settings, stop)

    asyncio.run(main())


def private_address() -> str:
    """A free loopback port for gunicorn when PEAKSHOP_GATE_UPSTREAM does not name one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def run_gunicorn_behind_gate(settings: GateSettings) -> int:
    """gunicorn as a child on the private address, the gate in this process; either one
    stopping stops the other. Returns the exit status."""
    if "PEAKSHOP_GATE_UPSTREAM" not in os.environ:
        settings = dataclasses.replace(settings, upstream=private_address())
    env = {**os.environ, "PEAKSHOP_BIND": settings.upstream, "PEAKSHOP_GATE": "false",
           # The gate appends the client's address: gunicorn trusts one proxy more.
           "PEAKSHOP_PROXY_HOPS": str(settings.app.proxy_hops + 1)}
    gunicorn = subprocess.Popen([sys.executable, "-m", "peakshop.cli", "serve"], env=env)

    async def main() -> int:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        if not await _upstream_ready(settings, gunicorn, stop):
            await asyncio.to_thread(_stop_child, gunicorn)
            return 0 if stop.is_set() else 1   # told to stop while starting: not a failure
        watcher = asyncio.create_task(_watch_child(gunicorn, stop))
        follow = None if "PEAKSHOP_GATE_UPSTREAM_CONCURRENCY" in os.environ else (
            lambda: _worker_count(gunicorn.pid))
        try:
            await serve(settings, stop, follow)
        finally:
            watcher.cancel()
        status = await asyncio.to_thread(_stop_child, gunicorn)
        return status if status and status > 0 else 0

    return asyncio.run(main())


async def _upstream_ready(settings: GateSettings, child: subprocess.Popen,
                          stop: asyncio.Event) -> bool:
    """Wait until gunicorn accepts connections (or exits, or we are told to stop)."""
    host, _, port = settings.upstream.rpartition(":")
    deadline = asyncio.get_running_loop().time() + GUNICORN_READY_S
    while asyncio.get_running_loop().time() < deadline and not stop.is_set():
        if child.poll() is not None:
            click.echo(f"peakshop: gunicorn exited with status {child.returncode} before "
                       "it was ready: see its lines above", err=True)
            return False
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return True
    if not stop.is_set():
        click.echo(f"peakshop: gunicorn did not listen on {settings.upstream} within "
                   f"{GUNICORN_READY_S:.0f} s", err=True)
    return False


def _worker_count(master_pid: int) -> int:
    """gunicorn's workers: the children of its master (this process's child)."""
    try:
        return len(psutil.Process(master_pid).children())
    except psutil.Error:
        return 0


async def _watch_child(child: subprocess.Popen, stop: asyncio.Event) -> None:
    while child.poll() is None:
        await asyncio.sleep(0.5)
    log.error("gunicorn exited with status %s: stopping the gate", child.returncode)
    stop.set()


def _stop_child(child: subprocess.Popen) -> int | None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=GUNICORN_STOP_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode


def configure_logging(json_lines: bool) -> None:
    """The gate's lines in the storefront's format (JSON lines unless PEAKSHOP_LOG_JSON is
    false). It logs methods and routes, never a URL or a header, so nothing needs redacting."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level",
                                                          "asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("shop", "aiohttp"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO if name == "shop" else logging.WARNING)
        logger.propagate = False


@click.command("gate")
def gate_command() -> None:
    """Run the edge gate on PEAKSHOP_BIND in front of gunicorn on PEAKSHOP_GATE_UPSTREAM."""
    from shop.cli import ensure_redis, settings_or_exit

    settings = gate_settings_or_exit(ensure_redis(settings_or_exit()))
    configure_logging(settings.app.log_json)
    run_gate(settings)
