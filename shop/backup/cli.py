"""`peakshop backup`, `peakshop restore`, `peakshop drill`.

Every failure is one line on stderr naming the problem and the fix, exit status 2; a drill
that restores but does not verify exits 1.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime

import click

from common.cli_types import FiniteFloatRange
from shop.backup.errors import BackupError

EXIT_USAGE = 2
EXIT_NOT_VERIFIED = 1
STORE_HELP = "file:///path or s3://bucket/prefix"


class OneLineErrors(click.Command):
    """Usage mistakes (a missing value, an unknown flag) as one line too."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as problem:
            _fail(info_name, f"{problem.format_message()}: see --help")


class OneLineErrorsGroup(OneLineErrors, click.Group):
    pass


def _fail(command: str | None, message: str) -> None:
    click.echo(f"peakshop {command or ''}: {message}".replace("  ", " "), err=True)
    sys.exit(EXIT_USAGE)


def one_line_errors(command: str):
    """Turn BackupError (and the unexpected) into the one-line exit-2 answer."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except BackupError as problem:
                _fail(command, str(problem))
            except OSError as problem:
                # The local side: a folder that cannot be written, a full disk, a path that
                # is a directory. Exit 1: the command was right, the machine refused.
                where = f" ({problem.filename})" if problem.filename else ""
                click.echo(f"peakshop {command}: {problem.strerror or problem}{where}: check "
                           "the path, its permissions and the free space", err=True)
                sys.exit(1)
            except KeyboardInterrupt:
                click.echo(f"peakshop {command}: interrupted", err=True)
                sys.exit(130)
        return wrapper
    return decorate


def _database_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    from shop.core.settings import ConfigError, load_settings

    try:
        return load_settings().database_url
    except ConfigError as problem:
        raise BackupError(str(problem)) from None


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 with an offset -> naive UTC (how peakshop stores times)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BackupError(f"--to-time {value!r} is not an RFC 3339 time: write it like "
                          "2026-12-24T18:30:00Z") from None
    if moment.tzinfo is None:
        raise BackupError(f"--to-time {value!r} has no time zone: add Z or an offset "
                          "such as +01:00")
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        # 0001-01-01T00:00+14:00 and 9999-12-31T23:59-12:00 fall outside the years 1-9999 in UTC.
        raise BackupError(f"--to-time {value!r} is not a real moment: in UTC it falls outside "
                          "the years 1 to 9999; give the time to restore to, like "
                          "2026-12-24T18:30:00Z") from None


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@click.group("backup", cls=OneLineErrorsGroup, invoke_without_command=True)
@click.option("--to", "store_url", envvar="PEAKSHOP_BACKUP_TO", metavar="URL",
              help=f"Where backups go: {STORE_HELP} (or PEAKSHOP_BACKUP_TO).")
@click.option("--database", "database_url", metavar="URL",
              help="Database to back up (default: PEAKSHOP_DATABASE_URL).")
# A month at most: past it the next backup's time overflows the clock, and a backup that
# rare is not one anybody relies on.
@click.option("--every", "every_s", type=FiniteFloatRange(min=1, max=31 * 86400),
              metavar="SECONDS",
              help="Keep running, one backup every SECONDS (SQLite's recovery point).")
@click.option("--continuous", is_flag=True,
              help="PostgreSQL: keep running and stream the WAL to the store (PITR).")
@click.option("--wal-interval", "wal_interval_s", type=FiniteFloatRange(min=1, max=60),
              default=10.0, show_default=True, metavar="SECONDS",
              help="With --continuous: upload the WAL received at least this often (the RPO).")
@click.option("--spool", type=click.Path(file_okay=False), metavar="DIR",
              help="With --continuous: local folder for WAL in transit "
                   "(default: PEAKSHOP_INSTANCE_PATH/wal-spool).")
@click.option("--heartbeat-file", envvar="PEAKSHOP_BACKUP_HEARTBEAT_FILE", metavar="PATH",
              help="With --continuous: rewritten every round (default: "
                   "PEAKSHOP_INSTANCE_PATH/backup.heartbeat).")
@click.option("--check", is_flag=True,
              help="Exit 0 if the --continuous archiver's heartbeat is fresh (a probe).")
@click.option("--keep", type=click.IntRange(min=1), metavar="N",
              help="Keep the newest N backups, delete older ones (and WAL only they need).")
@click.option("--keep-days", type=FiniteFloatRange(min=0, min_open=True, max=36_500),
              metavar="DAYS",
              help="Delete backups older than DAYS (the newest one always stays).")
@click.pass_context
@one_line_errors("backup")
def backup_command(ctx: click.Context, store_url: str | None, database_url: str | None,
                   every_s: float | None, continuous: bool, wal_interval_s: float,
                   spool: str | None, heartbeat_file: str | None, check: bool,
                   keep: int | None, keep_days: float | None) -> None:
    """Full backup of the database to an off-site store, encrypted with PEAKSHOP_BACKUP_KEY.

    PostgreSQL: a base backup; with --continuous the WAL is streamed to the store too
    (point-in-time recovery, RPO <= --wal-interval). SQLite: an online snapshot, repeated
    with --every.
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = store_url
        return
    heartbeat_file = heartbeat_file or os.path.join(
        os.environ.get("PEAKSHOP_INSTANCE_PATH", "instance"), "backup.heartbeat")
    if check:
        _check_heartbeat(heartbeat_file, wal_interval_s)
        return
    if not store_url:
        raise BackupError(f"no store given: add --to URL ({STORE_HELP})")
    from shop.backup import operations

    url = _database_url(database_url)
    if continuous:
        _archive_continuously(url, store_url, wal_interval_s, every_s, spool, keep, keep_days,
                              heartbeat_file)
        return
    if every_s is None:
        _report_backup(operations.back_up(url, store_url, keep=keep, keep_days=keep_days),
                       store_url)
        return
    from common.stop_signals import stop_signals

    with stop_signals() as stop:
        while not stop.is_set():
            began = time.monotonic()
            try:
                _report_backup(operations.back_up(url, store_url, keep=keep,
                                                  keep_days=keep_days), store_url)
            except BackupError as problem:
                # A scheduled run keeps its schedule: the next round may find the store back.
                click.echo(f"peakshop backup: {problem} (next try in {every_s:.0f} s)",
                           err=True)
            stop.wait(max(0.0, every_s - (time.monotonic() - began)))


def _archive_continuously(database_url: str, store_url: str, interval_s: float,
                          every_s: float | None, spool: str | None, keep: int | None,
                          keep_days: float | None, heartbeat_file: str) -> None:
    from common.stop_signals import stop_signals
    from shop.backup import operations
    from shop.orders.heartbeat import Heartbeat

    if spool is None:
        spool = os.path.join(os.environ.get("PEAKSHOP_INSTANCE_PATH", "instance"), "wal-spool")
    logging.basicConfig(level=logging.INFO, format="peakshop backup: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    with stop_signals() as stop:
        click.echo(f"archiving WAL to {store_url} every {interval_s:.0f} s; Ctrl-C stops")
        operations.archive_continuously(
            database_url, store_url, interval_s=interval_s, every_s=every_s, spool=spool,
            keep=keep, keep_days=keep_days, stop=stop,
            report=lambda result: _report_backup(result, store_url),
            report_error=lambda problem: click.echo(f"peakshop backup: {problem}", err=True),
            beat=Heartbeat(heartbeat_file, "backup").beat)


def _check_heartbeat(heartbeat_file: str, interval_s: float) -> None:
    from shop.orders.heartbeat import heartbeat_age_s

    age = heartbeat_age_s(heartbeat_file)
    limit = 3 * interval_s + 60  # a round may wait on a slow store for a while
    if age is None or age > limit:
        said = "no heartbeat" if age is None else f"heartbeat {age:.0f} s old"
        click.echo(f"peakshop backup: {said} at {heartbeat_file} (limit {limit:.0f} s): "
                   "the archiver is stuck or not running", err=True)
        sys.exit(1)
    click.echo(f"peakshop backup: archiving, heartbeat {age:.1f} s old")


def _report_backup(result, store_url: str) -> None:
    if result.warning:
        click.echo(f"peakshop backup: warning: {result.warning}", err=True)
    backup = result.backup
    pruned = f", pruned {len(result.pruned)} old" if result.pruned else ""
    click.echo(f"backup {backup.id} ({backup.engine}) {_megabytes(backup.size)} "
               f"-> {_megabytes(backup.stored_bytes)} encrypted in {result.seconds:.1f} s "
               f"to {store_url}{pruned}")


@backup_command.command("wal-push", cls=OneLineErrors)
@click.argument("path", metavar="%p")
@click.option("--to", "store_url", envvar="PEAKSHOP_BACKUP_TO", metavar="URL",
              help=f"The store: {STORE_HELP} (or PEAKSHOP_BACKUP_TO).")
@click.pass_obj
@one_line_errors("backup wal-push")
def wal_push_command(group_store_url: str | None, path: str, store_url: str | None) -> None:
    """Archive one WAL segment (PostgreSQL's archive_command; exit 0 only once stored)."""
    store_url = store_url or group_store_url
    if not store_url:
        raise BackupError(f"no store given: add --to URL ({STORE_HELP}) to archive_command")
    from shop.backup import operations

    operations.push_wal(path, store_url)


@click.command("restore", cls=OneLineErrors)
@click.option("--from", "store_url", metavar="URL", help=f"The store: {STORE_HELP}.")
@click.option("--into", "database_url", metavar="DATABASE_URL",
              help="An empty database: postgresql+psycopg://... or sqlite:///path.")
@click.option("--to-time", metavar="RFC3339",
              help="Recover to this moment (default: the latest the store holds).")
@click.option("--data-dir", type=click.Path(file_okay=False), metavar="PATH",
              help="PostgreSQL: lay out a data directory to start with pg_ctl instead "
                   "(the fastest recovery of a whole server).")
@one_line_errors("restore")
def restore_command(store_url: str | None, database_url: str | None, to_time: str | None,
                    data_dir: str | None) -> None:
    """Restore a backup into a fresh database, at the latest point or a given time."""
    if not store_url:
        raise BackupError(f"no store given: add --from URL ({STORE_HELP})")
    if database_url and data_dir:
        raise BackupError("give either --into DATABASE_URL or --data-dir PATH, not both")
    from shop.backup import operations

    result = operations.restore(store_url, database_url, parse_time(to_time), data_dir)
    click.echo(f"restored backup {result.backup.id} ({result.backup.engine}"
               f"{', to ' + to_time if to_time else ''}) into {result.target} "
               f"in {result.seconds:.1f} s")
    if data_dir:
        click.echo(f"start it with: pg_ctl -D {result.target} start (it replays the "
                   "archived WAL, then promotes)")


@click.command("drill", cls=OneLineErrors)
@click.option("--from", "store_url", metavar="URL", help=f"The store: {STORE_HELP}.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--textfile", type=click.Path(dir_okay=False), metavar="PATH",
              help="Also write the result as Prometheus gauges (node exporter textfile).")
@click.option("--pushgateway", metavar="URL", envvar="PEAKSHOP_DRILL_PUSHGATEWAY",
              help="Also push the result as gauges to this Prometheus Pushgateway.")
@one_line_errors("drill")
def drill_command(store_url: str | None, as_json: bool, textfile: str | None,
                  pushgateway: str | None) -> None:
    """Restore the latest backup into a scratch database, verify it, report RPO and RTO."""
    if not store_url:
        raise BackupError(f"no store given: add --from URL ({STORE_HELP})")
    from shop.backup import operations
    from shop.backup.metrics import publish

    logging.basicConfig(level=logging.WARNING)
    try:
        report = operations.drill(store_url)
    except BackupError:
        publish(None, textfile, pushgateway)
        raise
    publish(report, textfile, pushgateway)
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        click.echo(f"{'verified' if report.verified else 'NOT VERIFIED'}: backup "
                   f"{report.backup_id} ({report.engine}) restored in {report.rto_s:.1f} s "
                   f"(RTO), newest restorable point {report.rpo_s:.0f} s old (RPO), "
                   f"{report.orders_checked} orders checked, {report.orders_missing} missing")
        for problem in report.problems:
            click.echo(f"  {problem}")
    if not report.verified:
        sys.exit(EXIT_NOT_VERIFIED)


if __name__ == "__main__":
    # `python -m shop.backup.cli wal-push %p` works where `peakshop` is not on PATH.
    backup_command(prog_name="peakshop backup")
