"""`peakshop rehearse`: a peak rehearsed on this machine, start to finish.

Starts its own storefront (gunicorn, one worker to begin with, a fresh SQLite database and the
embedded Redis unless PEAKSHOP_REDIS_URL is set), seeds a demo shop through the API, runs the
order workers (one fixed worker, or the scaler in local mode managing gunicorn and the worker
pool), replays the trace with Locust, samples everything once a second, then lets the queue
drain and checks that every placed order was confirmed. The report folder gets
`timeline.csv`, `timeline.png`, `summary.json` and the log of every process.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from pathlib import Path

import click

from common.cpu_placement import CpuListError, parse_cpu_list, servers_cpus, usable_cpus
from loadtests.cpu_limit import CpuCgroup, CpuLimitUnavailable, check_cores, find_hierarchy
from loadtests.rehearsal import Interrupted, Rehearsal, RehearsalSettings
from loadtests.report import SloSettings
from loadtests.trace import Replay, ReplayError, ReplaySettings, TraceFileError, build_replay
from scaler.events import EventsFileError, load_events


class BadArgument(click.ClickException):
    """A flag or variable that cannot work: one `Error: ...` line naming the fix, exit 2."""

    exit_code = 2


def _raise_interrupted(signum, _frame) -> None:
    # Once: a second Ctrl-C must not cut the clean-up short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


def build_settings(trace: str, no_scaler: bool, report_dir: str | None, compress: float | None,
                   scale: float | None, duration: float | None, slo_p95: float,
                   drain_timeout: float, pacing: float,
                   events: str | None = None, waiting_room: str = "off",
                   admit_per_s: float | None = None,
                   gate: bool = False,
                   web_cpu_limit: float | None = None,
                   loadgen_cpus: str | None = None,
                   payments_outage: str | None = None) -> tuple[RehearsalSettings, Replay]:
    """Settings from the flags; raises BadArgument with one line naming the fix."""
    if admit_per_s is not None:
        if not (math.isfinite(admit_per_s) and admit_per_s > 0):
            raise BadArgument(f"--admit-per-s must be a number above 0: got {admit_per_s:g}")
        if waiting_room != "on":
            raise BadArgument("--admit-per-s is the rate of --waiting-room on: add "
                              "--waiting-room on, or drop --admit-per-s (auto measures it)")
    for flag, value in (("--duration", duration), ("--slo-p95", slo_p95),
                        ("--drain-timeout", drain_timeout), ("--pacing", pacing)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise BadArgument(f"{flag} must be a number above 0: got {value:g}")
    replay_settings = ReplaySettings(trace=trace, compress=compress, scale=scale)
    try:
        replay = build_replay(replay_settings)
    except (ReplayError, TraceFileError) as problem:
        raise BadArgument(str(problem)) from None
    if events is not None:
        try:
            load_events(events)
        except EventsFileError as problem:
            raise BadArgument(f"--events: {problem}") from None
        if no_scaler:
            raise BadArgument("--events announces crowds to the scaler: drop --no-scaler, "
                              "or drop --events for the baseline without a scaler")
    if web_cpu_limit is not None:
        problem = check_cores(web_cpu_limit)
        if problem:
            raise BadArgument(problem)
        try:
            find_hierarchy()
        except CpuLimitUnavailable as unavailable:
            raise BadArgument(str(unavailable)) from None
    locust_cpus = server_cpus = None
    if loadgen_cpus is not None:
        try:
            locust_cpus = frozenset(parse_cpu_list(loadgen_cpus, usable_cpus()))
            server_cpus = frozenset(servers_cpus(locust_cpus, usable_cpus()))
        except CpuListError as problem:
            raise BadArgument(f"--loadgen-cpus: {problem}") from None
    outage = None if payments_outage is None else parse_outage(payments_outage)
    load_s = min(duration, replay.duration_s) if duration else replay.duration_s
    if outage is not None and outage[0] >= load_s:
        raise BadArgument(f"--payments-outage starts at {outage[0]:g} s, after the load ends "
                          f"({load_s:g} s): start it within the load, before {load_s:g} s")
    redis_url = os.environ.get("PEAKSHOP_REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise BadArgument(f"PEAKSHOP_REDIS_URL is not a redis:// URL: got {redis_url!r}")
    # Last: a run refused for another reason leaves no empty report folder behind.
    folder = Path(report_dir or time.strftime("rehearsal-%Y%m%d-%H%M%S"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".writable").touch()
        (folder / ".writable").unlink()
    except OSError as problem:
        raise BadArgument(f"--report {str(folder)!r} is not a writable folder "
                               f"({problem.strerror}): give another path") from None
    return RehearsalSettings(replay_settings=replay_settings, scaler=not no_scaler,
                             report_dir=folder.resolve(), duration_s=duration,
                             slo=SloSettings(latency_p95_s=slo_p95),
                             drain_timeout_s=drain_timeout, pacing_s=pacing,
                             redis_url=redis_url,
                             events_file=Path(events).resolve() if events else None,
                             waiting_room=waiting_room, admit_per_s=admit_per_s,
                             gate=gate, web_cpu_limit=web_cpu_limit,
                             loadgen_cpus=locust_cpus, server_cpus=server_cpus,
                             payments_outage=outage), replay


MAX_OUTAGE_S = 86_400   # a drill lasts at most a day


def parse_outage(text: str) -> tuple[float, float]:
    """`START:SECONDS` -> (start, seconds) on the load's clock; BadArgument naming the fix."""
    start, colon, seconds = text.partition(":")
    try:
        values = (float(start), float(seconds)) if colon else None
    except ValueError:
        values = None
    if values is None or not all(math.isfinite(value) for value in values) \
            or values[0] < 0 or not 0 < values[1] <= MAX_OUTAGE_S:
        raise BadArgument(f"--payments-outage takes START:SECONDS, seconds into the load and "
                          f"how long, e.g. 60:90 (START >= 0, 0 < SECONDS <= {MAX_OUTAGE_S}): "
                          f"got {text!r}")
    return values


class OneLineErrors(click.Command):
    """Bad flags print one `Error: ...` line and exit 2, without the usage block."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            error.ctx = None
            raise


@click.command("rehearse", cls=OneLineErrors)
@click.option("--trace", required=True, help="Trace CSV (minute|second,rps[,orders_per_s]) "
              "or christmas-week, black-friday, flash-sale, steady.")
@click.option("--no-scaler", is_flag=True, help="One gunicorn worker and one order worker, "
              "fixed (the baseline to compare the scaler with).")
@click.option("--report", "report_dir", metavar="DIR",
              help="Report folder (default ./rehearsal-YYYYmmdd-HHMMSS).")
@click.option("--compress", type=float, help="Play the trace this many times faster.")
@click.option("--scale", type=float, help="Multiply every rate of the trace.")
@click.option("--duration", type=float, metavar="S", help="Stop the load after S seconds.")
@click.option("--slo-p95", type=float, default=0.5, show_default=True,
              help="p95 latency SLO in seconds (the queue SLO is an oldest order under 60 s).")
@click.option("--drain-timeout", type=float, default=180.0, show_default=True,
              help="Seconds to wait after the load for every order to be confirmed.")
@click.option("--pacing", type=float, default=10.0, show_default=True,
              help="Seconds between one shopper's visits (users = rate x pacing).")
@click.option("--events", metavar="FILE", help="The trace's announced events "
              "(second,name,extra_peaks,duration_s or minutes), handed to the scaler.")
@click.option("--waiting-room", type=click.Choice(["on", "auto", "off"]), default="off",
              show_default=True, help="The demo shop's waiting room (docs/waiting-room.md).")
@click.option("--admit-per-s", type=float, metavar="N",
              help="Visitors let in per second with --waiting-room on.")
@click.option("--gate", is_flag=True, help="The edge gate in front of gunicorn "
              "(peakshop serve --gate): the room answered before gunicorn.")
@click.option("--web-cpu-limit", type=float, metavar="CORES", help="Run gunicorn (master "
              "and workers) in a CPU cgroup with this quota, as a Kubernetes CPU limit does; "
              "the gate, Locust and Redis stay outside it (needs a writable cgroup: root).")
@click.option("--loadgen-cpus", metavar="CPUS", help="Run Locust on these CPUs (e.g. 1, "
              "2,3 or 2-3) and everything else (storefront, gate, Redis, workers) on the "
              "others, as load generators and servers on machines of their own.")
@click.option("--payments-outage", metavar="START:SECONDS", help="A drill: the dummy payment "
              "provider down from START seconds into the load for SECONDS (checkout fails, an "
              "incident opens from the burn rate, the demo shop's webhook receiver hears it).")
def rehearse_command(trace, no_scaler, report_dir, compress, scale, duration, slo_p95,
                     drain_timeout, pacing, events, waiting_room, admit_per_s, gate,
                     web_cpu_limit, loadgen_cpus, payments_outage) -> None:
    """Rehearse a traffic peak locally: storefront, workers, scaler and Locust together."""
    settings, replay = build_settings(trace, no_scaler, report_dir, compress, scale, duration,
                                      slo_p95, drain_timeout, pacing, events, waiting_room,
                                      admit_per_s, gate, web_cpu_limit, loadgen_cpus,
                                      payments_outage)
    cgroup = None
    if web_cpu_limit is not None:
        try:
            cgroup = CpuCgroup.create(web_cpu_limit)
        except CpuLimitUnavailable as problem:
            raise BadArgument(str(problem)) from None
    rehearsal = Rehearsal(settings, replay, cgroup)
    previous = {sig: signal.signal(sig, _raise_interrupted)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = rehearsal.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rehearsal.cleanup()
        if cgroup is not None:
            cgroup.remove()
    print_summary(summary, settings.report_dir)
    if summary["interrupted"]:
        sys.exit(130)
    # A rehearsal fails when it could not load the shop or an order was lost; an overloaded
    # shop is a result, not a failure.
    if summary["locust_exit_code"] != 0 or summary["orders_not_confirmed"]:
        sys.exit(1)


def print_summary(summary: dict, folder: Path) -> None:
    click.echo(f"\nSLO violation seconds: {summary['slo_violation_seconds']} "
               f"(latency {summary['latency_violation_seconds']}, queue "
               f"{summary['queue_violation_seconds']}); peak p95 {summary['peak_p95_s']} s")
    click.echo(f"visits offered {summary['offered_total']}, achieved {summary['achieved_total']}"
               f", dropped {summary['dropped_arrivals']}, started late "
               f"{summary['late_arrivals']}; errors {summary['errors']}")
    placement = summary.get("cpu_placement")
    if placement:
        click.echo(f"Locust ran on CPUs {placement['loadgen_cpus']}, the storefront on "
                   f"{placement['server_cpus']}")
    limit = summary.get("web_cpu_limit")
    if limit:
        click.echo(f"gunicorn's CPU limit {limit['cores']:g} cores (cgroup v{limit['cgroup']}): "
                   f"held back in {limit['throttled_periods']} of {limit['periods']} periods, "
                   f"{limit['throttled_s']:g} s; gunicorn used {limit['gunicorn_cpu_s']} s of CPU")
    click.echo(f"web workers {summary['web_workers']['min']}..{summary['web_workers']['max']}, "
               f"order workers {summary['order_workers']['min']}.."
               f"{summary['order_workers']['max']}")
    click.echo(f"orders placed {summary['orders_placed']}, confirmed "
               f"{summary['orders_confirmed']}, not confirmed {summary['orders_not_confirmed']}"
               f", left in shop {summary['orders_left_in_shop']}")
    room = summary.get("waiting_room") or {}
    if room.get("visitors_in_line"):
        eta = room["eta"]
        click.echo(f"waiting room: {room['visitors_in_line']} visits waited, "
                   f"{room['admitted_from_line']} let in; answers without position or ETA "
                   f"{room['waiting_answers_without_position_or_eta']}; ETA error median "
                   f"{eta['abs_error_median_s']} s, p90 {eta['abs_error_p90_s']} s; admitted "
                   f"p95 within the SLO in {room['seconds_with_admitted_p95_within_slo']} of "
                   f"{room['seconds_with_admitted_requests']} s")
    hooks = summary.get("webhooks") or {}
    for incident in hooks.get("incidents", []):
        click.echo(f"incident {incident['incident_id']} ({incident['title']}): webhook "
                   f"opened at {_at(incident['opened_at_s'])}, resolved at "
                   f"{_at(incident['resolved_at_s'])}")
    if hooks.get("received"):
        click.echo(f"outage webhooks: {hooks['received']} received, {hooks['verified']} with a "
                   f"valid signature, {hooks['refused']} refused")
    click.echo(f"report: {folder}/summary.json, {folder}/timeline.png, {folder}/timeline.csv")


def _at(seconds: float | None) -> str:
    return "-" if seconds is None else f"t={seconds:g}s"
