"""`peakshop scaler simulate`: replay a traffic trace against the simulated cluster."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path

import click

from scaler.events import EventsFileError, load_events
from scaler.rate_history import HistoryFileError, load_rate_history, weekday_shift_days
from scaler.simulate.cluster import ClusterSettings
from scaler.simulate.report import (
    demand_series,
    deployment_table,
    downsample,
    room_table,
    run_summary,
    write_markdown,
    write_timeline_png,
)
from scaler.simulate.run import POLICY_NAMES, UnknownPolicyError
from scaler.simulate.run import simulate as simulate_policy
from scaler.simulate.trace import TraceFileError, load_trace

_SEASON_NAME = re.compile(r"season-(\d{4})")
DEFAULTS = ClusterSettings()


class _Fail(Exception):
    """A bad input: reported on one line, exit code 2."""


def season_start(path: Path | None, given: dt.date | None) -> dt.date | None:
    """The calendar day of minute 0: as given, or 1 October of the year in `season-YYYY`."""
    if given is not None or path is None:
        return given
    match = _SEASON_NAME.search(path.name)
    return dt.date(int(match.group(1)), 10, 1) if match else None


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Fail(f"{value!r} is not a date: write it as YYYY-MM-DD") from None


@click.command("simulate")
@click.option("--trace", "trace_path", required=True, metavar="FILE",
              help="CSV trace: minute,rps[,orders_per_s] or second,rps[,orders_per_s].")
@click.option("--policy", "policy", required=True, metavar="NAME",
              help=f"One of: {', '.join(POLICY_NAMES)}.")
@click.option("--events", "events_path", metavar="FILE",
              help="Announced events: CSV (minute,name,extra_peaks,duration_min) or the shop's "
              "events JSON ({\"items\": [...]}, times placed by --season-start, UTC).")
@click.option("--history", "history_path", metavar="FILE",
              help="A previous season's per-minute trace, for the forecast.")
@click.option("--season-start", metavar="YYYY-MM-DD",
              help="Calendar day of the trace's minute 0 (default: 1 October of season-YYYY).")
@click.option("--history-start", metavar="YYYY-MM-DD",
              help="Calendar day of the history's minute 0 (default: from its file name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--report", "report_dir", metavar="DIR",
              help="Also run every policy and write timeline.png and figures.md here.")
@click.option("--pod-max-rps", type=float, default=DEFAULTS.pod_max_rps, show_default=True)
@click.option("--slo-utilization", type=float, default=DEFAULTS.slo_utilization,
              show_default=True)
@click.option("--worker-orders-per-s", type=float, default=DEFAULTS.worker_orders_per_s,
              show_default=True)
@click.option("--startup-s", type=int, default=DEFAULTS.startup_s, show_default=True)
@click.option("--min-replicas", type=int, default=DEFAULTS.min_replicas, show_default=True)
@click.option("--max-replicas", type=int, default=DEFAULTS.max_replicas, show_default=True)
@click.option("--scrape-s", type=int, default=DEFAULTS.scrape_s, show_default=True)
@click.option("--rate-window-s", type=int, default=DEFAULTS.rate_window_s, show_default=True)
@click.option("--queue-slo-s", type=float, default=DEFAULTS.queue_slo_s, show_default=True)
@click.option("--push/--no-push", default=DEFAULTS.push, show_default=True,
              help="Storefront pods push their listen backlog to policies that listen.")
@click.option("--push-s", type=int, default=DEFAULTS.push_s, show_default=True)
@click.option("--push-at", type=float, default=DEFAULTS.push_at, show_default=True,
              help="Share of the ready pods' SLO capacity at which a push is sent.")
@click.option("--push-noise-sd", type=float, default=DEFAULTS.push_noise_sd, show_default=True,
              help="Margin past --push-at, in sqrt(arrivals/s): the live push's (2).")
@click.option("--resize-s", type=int, default=DEFAULTS.resize_s, show_default=True,
              help="Seconds for an in-place resize (+ gunicorn TTIN) to serve.")
@click.option("--max-pod-size", type=float, default=DEFAULTS.max_pod_size, show_default=True,
              help="In-pod capacity a running pod can grow to (1: no in-place resize).")
@click.option("--signal-faults", type=float, default=DEFAULTS.signal_faults, show_default=True,
              help="Share of scrapes lost or late, for every policy alike.")
@click.option("--outages-per-day", type=float, default=DEFAULTS.outages_per_day,
              show_default=True, help="Traffic-signal outages of --outage-s per day.")
@click.option("--outage-s", type=int, default=DEFAULTS.outage_s, show_default=True)
@click.option("--fault-seed", type=int, default=DEFAULTS.fault_seed, show_default=True)
@click.option("--push-mean-s", type=int, default=DEFAULTS.push_mean_s, show_default=True,
              help="Seconds of arrivals whose mean the push judges.")
@click.option("--push-confirm-s", type=int, default=DEFAULTS.push_confirm_s, show_default=True,
              help="Seconds in a row that mean must pass the push's threshold.")
@click.option("--arrival-noise", type=float, default=DEFAULTS.arrival_noise, show_default=True,
              help="Per-second arrival noise, variance/mean (1: Poisson, as live; 0: none).")
@click.option("--noise-seed", type=int, default=DEFAULTS.noise_seed, show_default=True)
@click.option("--waiting-room/--no-waiting-room", default=DEFAULTS.waiting_room,
              show_default=True,
              help="Demand beyond the ready pods' SLO capacity waits in a FIFO line "
              "(docs/simulation.md, \"With the waiting room\").")
@click.option("--room-react-s", type=int, default=DEFAULTS.room_react_s, show_default=True,
              help="Seconds an overload that starts with no line misses the SLO before the "
              "room holds the crowd back.")
@click.option("--room-answers-counted/--room-answers-hidden",
              default=DEFAULTS.room_answers_counted, show_default=True,
              help="The scraped request rate counts the room's own answers (arrivals told to "
              "wait and every refresh), as the live scaler's does; hidden: only what it let in.")
@click.pass_context
def simulate(ctx: click.Context, trace_path: str, policy: str, events_path: str | None,
             history_path: str | None, season_start: str | None, history_start: str | None,
             as_json: bool, report_dir: str | None, **cluster_flags) -> None:
    """Replay a traffic trace against a simulated cluster and print the figures."""
    try:
        _simulate(trace_path, policy, events_path, history_path, season_start, history_start,
                  as_json, report_dir, cluster_flags)
    except (_Fail, TraceFileError, EventsFileError, HistoryFileError,
            UnknownPolicyError) as problem:
        click.echo(f"error: {problem}", err=True)
        ctx.exit(2)


def _simulate(trace_path, policy, events_path, history_path, season_start_text,
              history_start_text, as_json, report_dir, cluster_flags) -> None:
    if report_dir is not None and not report_dir.strip():
        raise _Fail("--report is empty: give the folder to write the report in")
    if policy not in POLICY_NAMES:
        raise UnknownPolicyError(f"unknown policy {policy!r}: use --policy with one of "
                                 f"{', '.join(POLICY_NAMES)}")
    try:
        cluster = ClusterSettings(**cluster_flags)
    except ValueError as problem:
        raise _Fail(str(problem)) from None
    this_start = season_start(Path(trace_path), _date(season_start_text))
    that_start = (season_start(Path(history_path), _date(history_start_text))
                  if history_path else None)
    trace = load_trace(trace_path)
    origin_s = (dt.datetime.combine(this_start, dt.time(), tzinfo=dt.UTC).timestamp()
                if this_start else None)
    events = load_events(events_path, origin_s=origin_s) if events_path else None
    previous, shift_days = None, 0
    if history_path:
        previous = load_rate_history(history_path)
        if this_start and that_start:
            shift_days = weekday_shift_days(this_start.weekday(), that_start.weekday())

    def run(name: str):
        return simulate_policy(name, trace, cluster, events, previous, shift_days,
                               timeline=bool(report_dir))

    chosen = run(policy)
    context = {"trace": str(trace_path), "events": events_path, "history": history_path,
               "history_shift_days": shift_days, "duration_s": trace.duration_s,
               "simulated_in_s": round(chosen.simulated_in_s, 3), "settings": cluster.as_dict()}
    if report_dir is not None:
        _write_report(Path(report_dir), trace_path, chosen, run,
                      [f"Trace: `{trace_path}`", f"Events: `{events_path or 'none'}`",
                       f"History: `{history_path or 'none'}`"], events_path)
    if as_json:
        click.echo(json.dumps(run_summary(policy, chosen.measurement, context)))
        return
    click.echo(f"policy {policy} on {trace_path} ({trace.duration_s:,} s simulated in "
               f"{chosen.simulated_in_s:.2f} s)" + (f", events {events_path}" if events else ""))
    click.echo(deployment_table(chosen.measurement))
    if chosen.measurement.room is not None:
        click.echo(room_table(chosen.measurement.room))


def _write_report(directory: Path, trace_path: str, chosen, run, context_lines: list[str],
                  events_path: str | None) -> None:
    """Run every policy and write the side-by-side report."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise _Fail(f"cannot create report folder {directory}: {problem.strerror}") from None
    measurements, timings, timelines = {}, {}, {}
    web_demand = workers_demand = None
    for name in POLICY_NAMES:
        result = chosen if name == chosen.policy else run(name)
        measurements[name] = result.measurement
        timings[name] = result.simulated_in_s
        timelines[name] = downsample(result.measurement)
        if web_demand is None:
            web_demand, workers_demand = demand_series(result.measurement)
        # Keep only the figures of the others: a season's per-second arrays are large.
        if name != chosen.policy:
            measurements[name] = replace(result.measurement, timeline=None)
    title = f"{Path(trace_path).name}" + (f" with {Path(events_path).name}" if events_path
                                          else " without announced events")
    try:
        write_timeline_png(directory / "timeline.png", title, web_demand, workers_demand,
                           timelines)
        write_markdown(directory / "figures.md", f"Scaling policies on {title}", measurements,
                       timings, context_lines)
    except OSError as problem:  # read-only, full, or a folder where a file goes
        where = f" ({problem.filename})" if problem.filename else ""
        raise _Fail(f"cannot write the report in {directory}: "
                    f"{problem.strerror or problem}{where}") from None
    click.echo(f"report written to {directory}/figures.md and {directory}/timeline.png",
               err=True)


if __name__ == "__main__":
    simulate()
