"""The storefront's own commands (`serve`, `db upgrade`) and the settings every command reads.

The `peakshop` command that composes them with the scaler and the load tests is `peakshop.cli`.
"""

from __future__ import annotations

import os
import sys

import click

from shop.core.settings import ConfigError, Settings, load_settings


def settings_or_exit() -> Settings:
    """The settings, or one line naming the bad variable and exit status 2.

    The order worker's variables are checked here too: every process reads the same
    configuration, and a bad value should stop whichever starts first, not only the worker.
    """
    from shop.orders.worker_settings import load_worker_settings

    try:
        settings = load_settings()
        load_worker_settings(settings.instance_path)
    except ConfigError as problem:
        click.echo(f"peakshop: {problem}", err=True)
        sys.exit(2)
    return settings


def writable_instance_or_exit(settings: Settings, command: str) -> None:
    """The instance folder (heartbeats, the embedded Redis, SQLite's default file) exists
    and takes files, or one line naming PEAKSHOP_INSTANCE_PATH and exit status 2."""
    import tempfile

    try:
        os.makedirs(settings.instance_path, exist_ok=True)
        with tempfile.TemporaryFile(dir=settings.instance_path):
            pass
    except OSError as problem:
        click.echo(f"peakshop {command}: PEAKSHOP_INSTANCE_PATH {settings.instance_path} "
                   f"cannot be written ({problem.strerror or problem}): point it at a "
                   "writable folder", err=True)
        sys.exit(2)


def database_or_exit(settings: Settings, command: str) -> None:
    """The database opens the way this process will open it, or one line naming
    PEAKSHOP_DATABASE_URL and exit status 1."""
    import sqlalchemy.exc

    from shop.core.db import make_engine

    try:
        engine = make_engine(settings.database_url)  # makes a SQLite file's folder
        try:
            if engine.dialect.name == "sqlite":
                # A local file: opening it now costs nothing. A PostgreSQL server may still be
                # starting beside this process, and the pool connects when it is asked to.
                with engine.connect():
                    pass
        finally:
            engine.dispose()
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as problem:
        database_refused_exit(command, problem)


def database_refused_exit(command: str, problem: BaseException) -> None:
    click.echo(f"peakshop {command}: {database_problem(problem)}: check "
               "PEAKSHOP_DATABASE_URL and that the database is up, and run it again", err=True)
    sys.exit(1)


def listenable_or_exit(address: str, named: str, command: str) -> None:
    """Nothing else listens on HOST:PORT `address`, or one line naming the setting `named`
    and exit status 1. gunicorn itself would retry for seconds, logging a dozen lines."""
    import errno
    import socket

    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, int(port)))
    except OSError as problem:
        if problem.errno == errno.EADDRINUSE:
            fix = f"stop what listens there, or choose another port such as {host}:{int(port) + 1}"
        else:
            fix = "give an address of this machine, such as 127.0.0.1:8000"
        click.echo(f"peakshop {command}: {named} {address} cannot be listened on "
                   f"({problem.strerror or problem}): {fix}", err=True)
        sys.exit(1)


def ensure_redis(settings: Settings) -> Settings:
    """Without PEAKSHOP_REDIS_URL, start the embedded Redis and point child processes at it."""
    if settings.redis_url:
        return settings
    from shop.core.redis import embedded_socket

    url = "unix://" + embedded_socket(settings.instance_path)
    os.environ["PEAKSHOP_REDIS_URL"] = url
    return load_settings()


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    # Imported here: `peakshop worker --check`, a liveness probe, imports this module and
    # must not pay for SQLAlchemy.
    import sqlalchemy.exc

    from shop.core.migrate import upgrade

    settings = settings_or_exit()
    try:
        upgrade(settings.database_url)
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as problem:
        database_refused_exit("db upgrade", problem)
    click.echo("database is at the latest schema")


def database_problem(problem: BaseException) -> str:
    """What the driver said, in one line and without the URL's password (SQLAlchemy's own
    text adds the statement and a link; the driver's first line is the part that helps)."""
    original = getattr(problem, "orig", None) or problem
    first = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return f"the database refused ({type(original).__name__}): {first}"


@click.command()
@click.option("--gate", "with_gate", is_flag=True, default=False,
              help="Run the edge gate on PEAKSHOP_BIND and gunicorn behind it on a private "
                   "address (also PEAKSHOP_GATE=true; docs/waiting-room.md).")
def serve(with_gate: bool) -> None:
    """Run the storefront under gunicorn (bind from PEAKSHOP_BIND)."""
    settings = settings_or_exit()
    writable_instance_or_exit(settings, "serve")
    database_or_exit(settings, "serve")
    listenable_or_exit(settings.bind, "PEAKSHOP_BIND", "serve")
    if settings.metrics_bind:
        listenable_or_exit(settings.metrics_bind, "PEAKSHOP_METRICS_BIND", "serve")
    settings = ensure_redis(settings)
    from shop.edge.settings import load_gate_settings

    try:
        with_gate = with_gate or load_gate_settings(settings).enabled
    except ConfigError as problem:
        click.echo(f"peakshop: {problem}", err=True)
        sys.exit(2)
    if with_gate:
        from shop.edge.run import configure_logging, gate_settings_or_exit, run_gunicorn_behind_gate

        gate_settings = gate_settings_or_exit(settings)
        configure_logging(settings.log_json)
        sys.exit(run_gunicorn_behind_gate(gate_settings))
    from shop.serve import run_gunicorn

    run_gunicorn(settings)
