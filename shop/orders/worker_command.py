"""`peakshop worker` (also `python -m shop.orders.worker_command`).

`--check` is a Kubernetes liveness probe run every few seconds in every worker pod: it reads the
heartbeat file and nothing else, so this module imports neither SQLAlchemy nor the models;
the worker itself (`shop.orders.worker`) is imported only when it runs.
"""

from __future__ import annotations

import sys

import click

from common.cli_types import AsciiIntRange
from shop.core.settings import ConfigError
from shop.orders.heartbeat import heartbeat_age_s
from shop.orders.worker_settings import WorkerSettings, load_worker_settings

EXIT_UNHEALTHY = 1


def check_heartbeat(worker: WorkerSettings) -> int:
    """Exit status of `--check`: 0 while this worker's heartbeat is fresh."""
    age = heartbeat_age_s(worker.heartbeat_file)
    if age is None:
        click.echo(f"peakshop worker: no heartbeat at {worker.heartbeat_file}", err=True)
        return EXIT_UNHEALTHY
    if age > worker.heartbeat_max_age_s:
        click.echo(f"peakshop worker: heartbeat is {age:.0f} s old "
                   f"(limit {worker.heartbeat_max_age_s:.0f} s): the worker is stuck", err=True)
        return EXIT_UNHEALTHY
    click.echo(f"peakshop worker: alive, heartbeat {age:.1f} s old")
    return 0


@click.command("worker")
@click.option("--check", is_flag=True,
              help="Exit 0 if this pod's worker beat recently (a liveness probe), else 1.")
@click.option("--name", "consumer", metavar="NAME",
              help="Consumer name in the group (default: host name and pid).")
@click.option("--metrics-port", type=AsciiIntRange(0, 65535), metavar="PORT",
              help="Serve this worker's own counters for Prometheus on PORT (0: not at all).")
def worker_command(check: bool, consumer: str | None, metrics_port: int | None) -> None:
    """Run one order worker: confirm paid orders from the queue, send mail, expire carts."""
    from shop.cli import (
        database_or_exit,
        ensure_redis,
        listenable_or_exit,
        settings_or_exit,
        writable_instance_or_exit,
    )

    settings = settings_or_exit()
    try:
        worker = load_worker_settings(settings.instance_path, overrides={
            "consumer": consumer, "metrics_port": metrics_port})
    except ConfigError as problem:
        click.echo(f"peakshop: {problem}", err=True)
        sys.exit(2)
    if check:
        sys.exit(check_heartbeat(worker))
    writable_instance_or_exit(settings, "worker")
    database_or_exit(settings, "worker")
    if worker.metrics_port:
        # prometheus_client listens on every interface.
        listenable_or_exit(f"0.0.0.0:{worker.metrics_port}",
                           "--metrics-port (PEAKSHOP_WORKER_METRICS_PORT)", "worker")
    from shop.core import logging as shop_logging
    from shop.orders.worker import run_worker

    shop_logging.configure(json_lines=settings.log_json)
    sys.exit(run_worker(ensure_redis(settings), worker))


if __name__ == "__main__":
    worker_command(prog_name="peakshop worker")
