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
from collections.abc import Callable

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


def fork_gate_processes(processes: int) -> tuple[int, list[int]]:
    """`processes - 1` more gate processes, forked before any event loop exists (a loop
    does not survive a fork). Returns this process's index (0: the first one, which keeps
    the others) and, in the first, the others' pids."""
    children: list[int] = []
    for index in range(1, processes):
        pid = os.fork()
        if pid == 0:
            return index, []
        children.append(pid)
    return 0, children


async def _watch_gates(children: list[int], stop: asyncio.Event, died: list[int]) -> None:
    """In the first gate process: one gate process stopping stops them all (and gunicorn),
    as gunicorn stopping does; its pid goes into `died`."""
    while not stop.is_set():
        for pid in children:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                log.error("gate process %d exited (status %d): stopping the gate", pid,
                          os.waitstatus_to_exitcode(status))
                children.remove(pid)
                died.append(pid)
                stop.set()
                return
        await asyncio.sleep(0.5)


async def _watch_first_gate(first_pid: int, stop: asyncio.Event) -> None:
    """In the other gate processes: stop when the first one is gone."""
    while os.getppid() == first_pid and not stop.is_set():
        await asyncio.sleep(0.5)
    stop.set()


def _stop_gates(children: list[int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            continue


async def _serve_as(settings: GateSettings, stop: asyncio.Event, index: int,
                    children: list[int], first_pid: int,
                    follow: Callable[[], int] | None = None) -> bool:
    """Serve as gate process `index`, watched by or watching the others. False when the
    first one stopped because another gate process died."""
    died: list[int] = []
    watcher = asyncio.create_task(_watch_gates(children, stop, died) if index == 0
                                  else _watch_first_gate(first_pid, stop))
    try:
        await serve(settings, stop, follow, index)
    finally:
        watcher.cancel()
        if index == 0:
            await asyncio.to_thread(_stop_gates, children)
    return not died


def run_gate(settings: GateSettings) -> None:
    """The gate alone, in front of whatever answers on PEAKSHOP_GATE_UPSTREAM."""
    first_pid = os.getpid()
    index, children = fork_gate_processes(settings.processes)

    async def main() -> bool:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        return await _serve_as(settings, stop, index, children, first_pid)

    healthy = asyncio.run(main())
    if index:
        os._exit(0)   # a forked gate process: nothing of the first one's exit is its own
    if not healthy:
        sys.exit(1)


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
    first_pid = os.getpid()
    index, children = fork_gate_processes(settings.processes)
    if index:
        # Only the first gate process can wait for gunicorn, its child; the others follow
        # the first one.
        def exited() -> int | None:
            return None if os.getppid() == first_pid else 0
    else:
        def exited() -> int | None:
            return gunicorn.poll()

    async def main() -> int:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        if not await _upstream_ready(settings, exited, stop):
            if index == 0:
                await asyncio.to_thread(_stop_gates, children)
                await asyncio.to_thread(_stop_child, gunicorn)
            return 0 if stop.is_set() else 1   # told to stop while starting: not a failure
        watcher = (asyncio.create_task(_watch_child(gunicorn, stop)) if index == 0
                   else None)
        follow = None if "PEAKSHOP_GATE_UPSTREAM_CONCURRENCY" in os.environ else (
            lambda: _worker_count(gunicorn.pid))
        try:
            healthy = await _serve_as(settings, stop, index, children, first_pid, follow)
        finally:
            if watcher is not None:
                watcher.cancel()
        if index:
            return 0
        status = await asyncio.to_thread(_stop_child, gunicorn)
        return status if status and status > 0 else (0 if healthy else 1)

    status = asyncio.run(main())
    if index:
        os._exit(status)   # a forked gate process: gunicorn and the exit are the first's
    return status


async def _upstream_ready(settings: GateSettings, exited: Callable[[], int | None],
                          stop: asyncio.Event) -> bool:
    """Wait until gunicorn accepts connections (or exits, or we are told to stop)."""
    host, _, port = settings.upstream.rpartition(":")
    deadline = asyncio.get_running_loop().time() + GUNICORN_READY_S
    while asyncio.get_running_loop().time() < deadline and not stop.is_set():
        status = exited()
        if status is not None:
            click.echo(f"peakshop: gunicorn exited with status {status} before "
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
