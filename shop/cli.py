"""The storefront's own commands (`serve`, `db upgrade`) and the settings every command reads.

The `peakshop` command that composes them with the scaler and the load tests is `peakshop.cli`.
"""

from __future__ import annotations

import os
import sys

import click

from shop.core.settings import ConfigError, Settings, load_settings


def settings_or_exit() -> Settings:
    """The settings, or one line naming the bad variable and exit status 2."""
    try:
        return load_settings()
    except ConfigError as problem:
        click.echo(f"peakshop: {problem}", err=True)
        sys.exit(2)


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
        click.echo(f"peakshop db upgrade: {database_problem(problem)}: check "
                   "PEAKSHOP_DATABASE_URL and that the database is up, and run it again",
                   err=True)
        sys.exit(1)
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
    settings = ensure_redis(settings_or_exit())
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
