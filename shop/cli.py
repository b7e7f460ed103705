"""The `peakshop` command."""

from __future__ import annotations

import os
import sys

import click

from shop.core.settings import ConfigError, Settings, load_settings
from shop.lazycli import LazyGroup


def settings_or_exit() -> Settings:
    """The settings, or one line naming the bad variable and exit status 2."""
    try:
        return load_settings()
    except ConfigError as problem:
        click.echo(f"peakshop: {problem}", err=True)
        sys.exit(2)


def ensure_redis(settings: Settings) -> Settings:
    """Without PEAKSHOP_REDIS_URL, start the embedded Redis and point child processes at it."""
    if settings.redis_url:
        return settings
    from shop.core.redis import embedded_socket

    url = "unix://" + embedded_socket(settings.instance_path)
    os.environ["PEAKSHOP_REDIS_URL"] = url
    return load_settings()


@click.group(cls=LazyGroup, lazy_subcommands={
    "worker": "shop.orders.worker:worker_command",
    "scaler": "scaler.cli:scaler",
    "rehearse": "loadtests.rehearse:rehearse_command",
    "up": "shop.up:up_command",
    "backup": "shop.backup.cli:backup_command",
    "restore": "shop.backup.cli:restore_command",
    "drill": "shop.backup.cli:drill_command",
})
@click.version_option(package_name="peakshop")
def cli() -> None:
    """peakshop: a storefront that scales before the Christmas peak."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from shop.core.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url)
    click.echo("database is at the latest schema")


@cli.command()
def serve() -> None:
    """Run the storefront under gunicorn (bind from PEAKSHOP_BIND)."""
    settings = ensure_redis(settings_or_exit())
    from shop.serve import run_gunicorn

    run_gunicorn(settings)


def main() -> None:
    cli(prog_name="peakshop")


if __name__ == "__main__":
    main()
