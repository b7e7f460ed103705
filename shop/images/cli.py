"""`peakshop images sweep`: remove stored image files that no image row points to."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from shop.images.sweep import DEFAULT_GRACE, MIN_GRACE


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


@click.group("images")
def images() -> None:
    """Product image files in the media store."""


@images.command("sweep")
@click.option("--older-than-minutes", "older_than", default=_minutes(DEFAULT_GRACE),
              show_default=True,
              type=click.IntRange(min=_minutes(MIN_GRACE), max=10 * 365 * 24 * 60),
              help="Only files written at least this long ago: younger ones may belong to "
                   "an upload in progress.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def sweep(older_than: int, dry_run: bool) -> None:
    """Remove files left by uploads that never got their row (a crash mid-upload) or by
    deletes the store did not complete. Each removed file is printed and logged."""
    import shop.models  # noqa: F401  (every table, for the foreign keys)
    from shop.cli import settings_or_exit
    from shop.core.db import Database
    from shop.core.settings import ConfigError
    from shop.core.timeutil import utcnow
    from shop.images.storage import store_for
    from shop.images.sweep import sweep_orphans

    settings = settings_or_exit()
    try:
        store = store_for(settings)
    except ConfigError as problem:
        click.echo(f"peakshop images sweep: {problem}", err=True)
        sys.exit(2)
    database = Database(settings.database_url)
    try:
        report = sweep_orphans(database, store, now=utcnow(),
                               older_than=timedelta(minutes=older_than), dry_run=dry_run)
    except _unreachable() as problem:
        click.echo(f"peakshop images sweep: nothing was removed: {_reason(problem)}", err=True)
        sys.exit(1)
    finally:
        database.dispose()
    verb = "would remove" if dry_run else "removed"
    for key in report.removed:
        click.echo(f"{verb} {key}")
    for key in report.failed:
        click.echo(f"could not remove {key} (it stays for the next sweep)", err=True)
    click.echo(f"{len(report.removed)} unreferenced files {verb}; {report.referenced} in use; "
               f"{report.too_young} unreferenced but younger than {older_than} minutes, kept")
    if report.failed:
        sys.exit(1)


def _unreachable() -> tuple[type[Exception], ...]:
    """What the database or the store raise when they cannot be reached or refuse."""
    import sqlalchemy.exc

    errors: tuple[type[Exception], ...] = (sqlalchemy.exc.SQLAlchemyError, OSError)
    try:
        import botocore.exceptions
    except ImportError:  # no bucket store without boto3
        return errors
    return (*errors, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def _reason(problem: Exception) -> str:
    import sqlalchemy.exc

    if isinstance(problem, sqlalchemy.exc.SQLAlchemyError):
        return (f"the database is unreachable ({type(problem).__name__}): check "
                "PEAKSHOP_DATABASE_URL")
    return (f"the media store cannot be listed ({type(problem).__name__}: {problem}): check "
            "PEAKSHOP_MEDIA_URL, PEAKSHOP_MEDIA_S3_ENDPOINT and the store's credentials")
