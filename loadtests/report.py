"""A rehearsal's report: the per-second timeline (CSV), its plot (PNG) and a JSON summary.

The SLO a second is judged by (documented in every summary):
- the p95 latency of the requests that completed in that second exceeds `latency_p95_s`
  (0.5 s by default), or visits were due and not one request came back (a stalled server), or
- the oldest order waiting in the queue is older than `queue_age_s` (60 s, as the simulator).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from loadtests.sampler import StackSample

SLO_RULE = ("a second violates the SLO when the p95 latency of the requests completed in it "
            "exceeds latency_p95_s (or none completed while visits were due), or when the "
            "oldest order in the queue is older than queue_age_s")


@dataclass(frozen=True)
class SloSettings:
    latency_p95_s: float = 0.5
    queue_age_s: float = 60.0


@dataclass(frozen=True)
class TimelineRow:
    """One second of a rehearsal; rates are per second, latencies in seconds."""

    t_s: int
    target_rps: float | None   # what the trace asks for now
    offered_rps: int           # arrivals due: started on time + dropped
    achieved_rps: int          # visits completed without an unexpected failure
    dropped: int
    late: int                  # started over 1 s after their slot: Locust fell behind
    failed_visits: int
    requests: int
    errors: int                # requests with an unexpected outcome
    p50_s: float | None
    p95_s: float | None        # as the shoppers saw it (Locust)
    server_p95_s: float | None  # as the storefront measured it (/metrics bucket bound)
    loop_lag_ms: int           # Locust's worst event-loop delay: it inflates p50/p95
    users: int
    web_workers: int
    order_workers: int
    queue_depth: int | None
    queue_age_s: float | None
    orders_paid: int
    server_cpu_pct: float      # gunicorn master and workers, % of one core
    locust_cpu_pct: float
    machine_cpu_pct: float     # everything on the machine, % of one core (200 = 2 cores busy)
    # The waiting room (all zero/None without one): visits told to wait, 503 waiting answers,
    # visits let in after waiting and their mean predicted and actual wait, and the room as
    # the storefront reported it (GET .../waiting-room, polled once a second).
    in_line: int = 0
    waiting_answers: int = 0
    admitted_from_line: int = 0
    predicted_wait_s: float | None = None
    actual_wait_s: float | None = None
    room_open: int | None = None
    room_admit_per_s: float | None = None
    room_line: int | None = None


def _cpu_pct(before: StackSample | None, after: StackSample, attribute: str) -> float:
    if before is None or after.epoch <= before.epoch:
        return 0.0
    used = getattr(after, attribute) - getattr(before, attribute)
    return max(0.0, 100.0 * used / (after.epoch - before.epoch))


def _mean_wait_s(locust: dict, key: str) -> float | None:
    admitted = locust.get("admitted_from_line", 0)
    return locust.get(key, 0) / 1000 / admitted if admitted else None


def build_timeline(locust_rows: Sequence[dict], samples: Sequence[StackSample],
                   room: dict[int, dict] | None = None) -> list[TimelineRow]:
    """Join Locust's per-second rows and the stack samples on the epoch second.

    The timeline runs from Locust's first second to the last sample (the queue drains after
    the load stops); a second without a sample repeats the previous one.
    """
    if not locust_rows:
        return []
    by_epoch = {row["epoch"]: row for row in locust_rows}
    start = min(by_epoch)
    end = max([*by_epoch, *(int(sample.epoch) for sample in samples)])
    last_in_second: dict[int, tuple[StackSample | None, StackSample]] = {}
    previous: StackSample | None = None
    for sample in samples:
        last_in_second[int(sample.epoch)] = (previous, sample)
        previous = sample
    rows, carried = [], None
    for epoch in range(start, end + 1):
        carried = last_in_second.get(epoch, carried)
        before, sample = carried if carried else (None, None)
        locust = by_epoch.get(epoch, {})
        rows.append(TimelineRow(
            t_s=epoch - start, target_rps=locust.get("target_rps"),
            offered_rps=locust.get("offered", 0), achieved_rps=locust.get("visits_ok", 0),
            dropped=locust.get("dropped", 0), late=locust.get("late", 0),
            failed_visits=locust.get("visits_failed", 0),
            requests=locust.get("requests", 0), errors=locust.get("failures", 0),
            p50_s=locust.get("p50_s"), p95_s=locust.get("p95_s"),
            server_p95_s=sample.server_p95_s if sample else None,
            loop_lag_ms=locust.get("loop_lag_ms", 0),
            users=locust.get("users", 0),
            web_workers=sample.web_workers if sample else 0,
            order_workers=sample.order_workers if sample else 0,
            queue_depth=sample.queue_depth if sample else None,
            queue_age_s=sample.queue_age_s if sample else None,
            orders_paid=locust.get("orders_paid", 0),
            server_cpu_pct=_cpu_pct(before, sample, "server_cpu_s") if sample else 0.0,
            locust_cpu_pct=_cpu_pct(before, sample, "locust_cpu_s") if sample else 0.0,
            machine_cpu_pct=_cpu_pct(before, sample, "machine_busy_s") if sample else 0.0,
            in_line=locust.get("in_line", 0), waiting_answers=locust.get("waiting_answers", 0),
            admitted_from_line=locust.get("admitted_from_line", 0),
            predicted_wait_s=_mean_wait_s(locust, "predicted_wait_ms"),
            actual_wait_s=_mean_wait_s(locust, "actual_wait_ms"),
            **_room_at(room, epoch)))
    return rows


def _room_at(room: dict[int, dict] | None, epoch: int) -> dict:
    state = (room or {}).get(epoch)
    if state is None:
        return {}
    return {"room_open": int(bool(state.get("open"))),
            "room_admit_per_s": state.get("admitting_per_s"),
            "room_line": state.get("line_length")}


def _quantile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)], 2)


def eta_accuracy(eta_pairs: dict[str, int]) -> dict:
    """How far the waiting room's first ETA was from the wait each visitor then had.

    `eta_pairs` maps "predicted_s:actual_s" to a count of visitors. The error is actual minus
    predicted (positive: waited longer than told), reported as absolute seconds and as a share
    of the actual wait, median and p90.
    """
    errors, relative, predicted_all, actual_all = [], [], [], []
    for pair, count in eta_pairs.items():
        predicted, actual = (float(part) for part in str(pair).split(":"))
        for _ in range(int(count)):
            errors.append(actual - predicted)
            predicted_all.append(predicted)
            actual_all.append(actual)
            relative.append(abs(actual - predicted) / max(actual, 1.0))
    absolute = [abs(error) for error in errors]
    return {"visitors": len(errors),
            "median_predicted_s": _quantile(predicted_all, 0.5),
            "median_actual_s": _quantile(actual_all, 0.5),
            "p90_actual_s": _quantile(actual_all, 0.9),
            "abs_error_median_s": _quantile(absolute, 0.5),
            "abs_error_p90_s": _quantile(absolute, 0.9),
            "signed_error_median_s": _quantile(errors, 0.5),
            "relative_error_median": _quantile(relative, 0.5),
            "relative_error_p90": _quantile(relative, 0.9)}


def waiting_room_summary(rows: Sequence[TimelineRow], totals: dict, slo: SloSettings) -> dict:
    """The waiting room's figures: who waited, whether they saw a place and an ETA, how good
    the ETA was, and how often the shoppers let in got their p95 within the SLO.

    The p95 share counts the seconds in which requests of shoppers let in completed: a second
    in which every visitor due was waiting in line has no admitted latency to judge (the
    report's `slo_violation_seconds` still counts it, as "nothing came back").
    """
    served = [row for row in rows if row.p95_s is not None]
    within = [row for row in served if not latency_violated(row, slo)]
    only_waiting = [row for row in rows if row.p95_s is None and row.waiting_answers]
    return {"visitors_in_line": totals.get("in_line", 0),
            "admitted_from_line": totals.get("admitted_from_line", 0),
            "not_let_in_before_the_end": max(0, totals.get("in_line", 0)
                                            - totals.get("admitted_from_line", 0)),
            "waiting_answers": totals.get("waiting_answers", 0),
            "waiting_answers_without_position_or_eta":
                totals.get("waiting_answers_without_eta", 0),
            "seconds_with_admitted_requests": len(served),
            "seconds_with_admitted_p95_within_slo": len(within),
            "share_of_seconds_within_slo": round(len(within) / len(served), 4) if served
            else None,
            "seconds_with_only_waiting_answers": len(only_waiting),
            "seconds_room_open": sum(1 for row in rows if row.room_open),
            "max_line_length": max((row.room_line or 0 for row in rows), default=0),
            "eta": eta_accuracy(totals.get("eta_pairs") or {})}


def latency_violated(row: TimelineRow, slo: SloSettings) -> bool:
    if row.p95_s is None:
        return row.offered_rps > 0  # visits were due and nothing came back
    return row.p95_s > slo.latency_p95_s


def queue_violated(row: TimelineRow, slo: SloSettings) -> bool:
    return row.queue_age_s is not None and row.queue_age_s > slo.queue_age_s


def violated(row: TimelineRow, slo: SloSettings) -> bool:
    """Whether this second breaks the SLO (see the module docstring)."""
    return latency_violated(row, slo) or queue_violated(row, slo)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def _span(values: list[float]) -> dict:
    return {"min": min(values, default=0), "max": max(values, default=0),
            "worker_seconds": sum(values)}


def summarize(rows: Sequence[TimelineRow], totals: dict, slo: SloSettings, *,
              orders: dict, run: dict) -> dict:
    """The summary.json body: the run's settings, SLO figures, load, capacity and orders."""
    p95s = [row.p95_s for row in rows if row.p95_s is not None]
    under_load = [row for row in rows if row.offered_rps or row.requests]
    return {
        **run,
        "slo": {**asdict(slo), "rule": SLO_RULE},
        "slo_violation_seconds": sum(violated(row, slo) for row in rows),
        "latency_violation_seconds": sum(latency_violated(row, slo) for row in rows),
        "queue_violation_seconds": sum(queue_violated(row, slo) for row in rows),
        "peak_p95_s": max(p95s, default=None),
        "p50_s": totals.get("p50_s"),
        "p95_s": totals.get("p95_s"),
        "offered_total": totals.get("offered", 0),
        "started_total": totals.get("started", 0),
        "achieved_total": totals.get("visits_ok", 0),
        "dropped_arrivals": totals.get("dropped", 0),
        "late_arrivals": totals.get("late", 0),
        "failed_visits": totals.get("visits_failed", 0),
        "requests_total": totals.get("requests", 0),
        "errors": totals.get("failures", 0),
        "payments_declined": totals.get("payments_declined", 0),
        "sold_out": totals.get("sold_out", 0),
        **orders,
        "web_workers": _span([row.web_workers for row in rows]),
        "order_workers": _span([row.order_workers for row in rows]),
        "max_queue_depth": max((row.queue_depth or 0 for row in rows), default=0),
        "max_queue_age_s": max((row.queue_age_s or 0.0 for row in rows), default=0.0),
        "max_locust_loop_lag_ms": max((row.loop_lag_ms for row in rows), default=0),
        "mean_locust_cpu_pct": _mean([row.locust_cpu_pct for row in under_load]),
        "mean_server_cpu_pct": _mean([row.server_cpu_pct for row in under_load]),
        "mean_machine_cpu_pct": _mean([row.machine_cpu_pct for row in under_load]),
        "timeline_seconds": len(rows),
        "waiting_room": waiting_room_summary(rows, totals, slo),
    }


def write_csv(rows: Sequence[TimelineRow], path: Path) -> None:
    """The timeline, one row per second."""
    names = [item.name for item in fields(TimelineRow)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if value is None else
                             (round(value, 4) if isinstance(value, float) else value)
                             for value in (getattr(row, name) for name in names)])


def write_summary(summary: dict, path: Path) -> None:
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _rolling_mean(values: Sequence[float], window: int = 5) -> list[float]:
    """Centred moving average: per-second arrival counts are noisy, and centring keeps the
    smoothed line from lagging behind the trace."""
    half = window // 2
    out = []
    for index in range(len(values)):
        chunk = values[max(0, index - half): index + half + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def _violation_spans(rows: Sequence[TimelineRow], slo: SloSettings) -> list[tuple[int, int]]:
    spans, begin = [], None
    for row in rows:
        if violated(row, slo) and begin is None:
            begin = row.t_s
        elif not violated(row, slo) and begin is not None:
            spans.append((begin, row.t_s))
            begin = None
    if begin is not None:
        spans.append((begin, rows[-1].t_s + 1))
    return spans


@dataclass(frozen=True)
class PlotMark:
    """Something that happened during the run, drawn on the load and latency panels: a span
    (a drill's outage) or, without `until_s`, a moment (an incident opened)."""

    label: str
    at_s: float
    until_s: float | None = None
    color: str = "tab:gray"


def plot_marks(summary: dict) -> list[PlotMark]:
    """A summary's drill (the payment provider's outage) and each incident, from the webhook
    that opened it to the one that resolved it."""
    marks = []
    outage = summary.get("payments_outage")
    if outage and outage.get("started_at_s") is not None:
        marks.append(PlotMark("payment provider down (drill)", outage["started_at_s"],
                              outage["started_at_s"] + outage["seconds"]))
    for incident in (summary.get("webhooks") or {}).get("incidents", []):
        for moment, color in (("opened", "tab:red"), ("resolved", "tab:green")):
            if incident[f"{moment}_at_s"] is not None:
                marks.append(PlotMark(f"incident {incident['incident_id']} {moment} (webhook)",
                                      incident[f"{moment}_at_s"], color=color))
    return marks


def write_plot(rows: Sequence[TimelineRow], slo: SloSettings, path: Path, title: str,
               marks: Sequence[PlotMark] = ()) -> None:
    """Offered vs achieved visits, p50/p95 latency, web and order workers, queue depth and
    age over time, with the seconds that broke the SLO shaded red (PNG, Agg backend), and
    `marks` on the first two panels."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    t = [row.t_s for row in rows]
    with_room = any(row.in_line or row.room_open for row in rows)
    figure = Figure(figsize=(12, 14 if with_room else 11), layout="constrained")
    panels = figure.subplots(5 if with_room else 4, 1, sharex=True)
    load, latency, capacity, queue = panels[:4]
    figure.suptitle(title)

    # Offered = started + dropped; a drop is only known when the visit that overran its
    # slot ends, so the offered curve itself would show drops late: plot its two parts.
    load.plot(t, [row.target_rps or 0 for row in rows], "k--", lw=1,
              label="offered: the trace's rate")
    load.plot(t, _rolling_mean([row.offered_rps - row.dropped for row in rows]), lw=1.5,
              label="started on their slot (5 s mean)")
    load.plot(t, _rolling_mean([row.achieved_rps for row in rows]), lw=1.5,
              label="achieved: completed (5 s mean)")
    load.bar(t, [row.dropped for row in rows], width=1.0, color="tab:red", alpha=0.5,
             label="dropped (counted when the overrunning visit ends)")
    if any(row.late for row in rows):
        load.bar(t, [row.late for row in rows], width=1.0, color="tab:olive", alpha=0.5,
                 label="started > 1 s late (Locust behind)")
    if any(row.failed_visits for row in rows):
        load.bar(t, [row.failed_visits for row in rows], width=1.0, color="tab:pink",
                 alpha=0.7, label="failed visits (an error answer)")
    load.set_ylabel("visits / s")

    latency.plot(t, [row.p50_s for row in rows], lw=1, label="p50")
    latency.plot(t, [row.p95_s for row in rows], lw=1.5, label="p95")
    # Bucket bounds: "+Inf" (over 10 s) is drawn at 20 s.
    latency.plot(t, [None if row.server_p95_s is None else min(row.server_p95_s, 20.0)
                     for row in rows], color="tab:green", lw=1, ls="--",
                 label="p95 in the storefront (/metrics)")
    latency.axhline(slo.latency_p95_s, color="tab:red", ls=":", label=f"SLO {slo.latency_p95_s} s")
    latency.set_yscale("log")
    latency.set_ylabel("latency (s)")

    capacity.step(t, [row.web_workers for row in rows], where="post", lw=2,
                  label="web workers (gunicorn)")
    capacity.step(t, [row.order_workers for row in rows], where="post", lw=2,
                  label="order workers")
    capacity.set_ylabel("processes")
    capacity.set_ylim(bottom=0)
    cores = capacity.twinx()
    cores.plot(t, _rolling_mean([row.server_cpu_pct / 100 for row in rows]), color="tab:green",
               lw=0.8, alpha=0.7, label="storefront CPU (cores)")
    cores.plot(t, _rolling_mean([row.machine_cpu_pct / 100 for row in rows]), color="grey",
               lw=0.8, ls="--", alpha=0.7, label="whole machine CPU (cores)")
    cores.set_ylabel("cores busy")
    cores.set_ylim(bottom=0)

    queue.plot(t, [row.queue_depth or 0 for row in rows], color="tab:purple", lw=1.5,
               label="queue depth")
    queue.set_ylabel("orders waiting")
    queue.set_ylim(bottom=0)
    age_axis = queue.twinx()
    age_axis.plot(t, [row.queue_age_s or 0 for row in rows], color="tab:brown", lw=1,
                  label="oldest order age")
    age_axis.axhline(slo.queue_age_s, color="tab:red", ls=":", label=f"SLO {slo.queue_age_s:.0f} s")
    age_axis.set_ylabel("age (s)")
    age_axis.set_ylim(bottom=0)
    queue.set_xlabel("seconds since the load started")

    if with_room:
        _plot_room(panels[4], rows)
        queue.set_xlabel("")
        panels[4].set_xlabel("seconds since the load started")
    for axis in panels:
        for begin, end in _violation_spans(rows, slo):
            axis.axvspan(begin, end, color="tab:red", alpha=0.08, lw=0)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize=8)
    for mark in marks:
        for axis in (load, latency):
            if mark.until_s is None:
                axis.axvline(mark.at_s, color=mark.color, lw=1.5, ls="-.", label=mark.label)
            else:
                axis.axvspan(mark.at_s, mark.until_s, color=mark.color, alpha=0.15,
                             hatch="//", lw=0, label=mark.label)
            axis.legend(loc="upper right", fontsize=8)
    age_axis.legend(loc="upper left", fontsize=8)
    cores.legend(loc="upper left", fontsize=8)
    figure.savefig(path, dpi=100)


def _plot_room(axis, rows: Sequence[TimelineRow]) -> None:
    """Visitors in line and let in per second; on the right, the wait predicted for the
    visitors let in each second (their first ETA) against the wait they had."""
    t = [row.t_s for row in rows]
    axis.plot(t, [row.room_line if row.room_line is not None else float("nan") for row in rows],
              color="tab:blue", lw=1.5, label="line length (storefront)")
    axis.bar(t, [row.in_line for row in rows], width=1.0, color="tab:orange", alpha=0.4,
             label="visits told to wait / s")
    axis.plot(t, _rolling_mean([row.admitted_from_line for row in rows]), color="tab:green",
              lw=1, label="let in from the line / s (5 s mean)")
    axis.set_ylabel("visitors")
    axis.set_ylim(bottom=0)
    waits = axis.twinx()
    waits.plot(t, [row.predicted_wait_s for row in rows], ".", color="tab:purple", ms=3,
               label="predicted wait (ETA first shown)")
    waits.plot(t, [row.actual_wait_s for row in rows], ".", color="black", ms=3,
               label="actual wait")
    waits.set_ylabel("wait of those let in (s)")
    waits.set_ylim(bottom=0)
    waits.legend(loc="upper left", fontsize=8)


def read_csv(path: Path) -> list[TimelineRow]:
    """A timeline written by `write_csv`, back as rows (to redraw or compare reports)."""
    types = {item.name: item.type for item in fields(TimelineRow)}
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            values = {}
            for name, text in record.items():
                kind = types.get(name, "")
                if text == "":
                    values[name] = None
                elif kind.startswith("int"):
                    values[name] = int(text)
                else:
                    values[name] = float(text)
            rows.append(TimelineRow(**{name: values.get(name) for name in types}))
    return rows


if __name__ == "__main__":
    # python -m loadtests.report DIR: redraw DIR/timeline.png from DIR/timeline.csv.
    import sys

    folder = Path(sys.argv[1])
    summary = json.loads((folder / "summary.json").read_text())
    slo = SloSettings(**{key: summary["slo"][key] for key in ("latency_p95_s", "queue_age_s")})
    name = Path(summary["trace"]).name
    rows = read_csv(folder / "timeline.csv")
    room = summary.get("waiting_room_mode")
    write_plot(rows, slo, folder / "timeline.png",
               f"peakshop rehearsal: {name}, {'scaler' if summary['scaler'] else 'no scaler'}"
               + (", announced events" if summary.get("events") else "")
               + (f", waiting room {room}" if room else ""), plot_marks(summary))
    timeline = folder / "locust-timeline.jsonl"
    if "waiting_room" in summary and timeline.exists():
        # Recount the waiting room's block from the run's own files (after a change here).
        totals = next((line["totals"] for line in map(json.loads, timeline.read_text()
                       .splitlines()) if "totals" in line), None)
        if totals is not None:
            summary["waiting_room"] = waiting_room_summary(rows, totals, slo)
            write_summary(summary, folder / "summary.json")
