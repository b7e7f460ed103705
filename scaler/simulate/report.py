"""How a run is shown: a table for people, one JSON object for programs, a report folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scaler.simulate.metrics import FIGURE_KEYS, Figures, Measurement
from scaler.simulate.room import RoomFigures

TIMELINE_POINTS = 2000


@dataclass(frozen=True)
class Downsampled:
    """A run's timeline in at most TIMELINE_POINTS bins, small enough to keep for a plot."""

    bin_s: int
    web_ready: np.ndarray         # mean ready web pods per bin
    workers_ready: np.ndarray
    violation_s: np.ndarray       # seconds with any SLO missed, per bin


def bin_size(seconds: int) -> int:
    """Seconds per plotted point."""
    return max(1, -(-seconds // TIMELINE_POINTS))


def _binned(values: np.ndarray, bin_s: int, reduce) -> np.ndarray:
    padded = -(-len(values) // bin_s) * bin_s
    filled = np.concatenate([values, np.repeat(values[-1:], padded - len(values))])
    return reduce(filled.reshape(-1, bin_s).astype(float), axis=1)


def downsample(measurement: Measurement) -> Downsampled:
    """Shrink a run's per-second timeline for plotting."""
    timeline = measurement.timeline
    bin_s = bin_size(len(timeline.web_ready))
    violated = timeline.web_violated | timeline.workers_violated
    return Downsampled(bin_s, _binned(timeline.web_ready, bin_s, np.mean),
                       _binned(timeline.workers_ready, bin_s, np.mean),
                       _binned(violated, bin_s, np.sum))


def demand_series(measurement: Measurement) -> tuple[np.ndarray, np.ndarray]:
    """Highest web and worker demand per plotted bin (the same for every policy)."""
    timeline = measurement.timeline
    bin_s = bin_size(len(timeline.web_demand))
    return (_binned(timeline.web_demand, bin_s, np.max),
            _binned(timeline.workers_demand, bin_s, np.max))


def run_summary(policy: str, measurement: Measurement, context: dict) -> dict:
    """The contract's JSON object: combined figures at the top, each Deployment beside."""
    summary = {"policy": policy, **measurement.combined.as_dict(),
               "web": measurement.web.as_dict(), "workers": measurement.workers.as_dict(),
               **context}
    if measurement.room is not None:
        summary["waiting_room"] = measurement.room.as_dict()
    return summary


def room_table(room: RoomFigures) -> str:
    """What the waiting room's line cost the visitors, one figure a line."""
    values = room.as_dict()
    width = max(len(key) for key in values)
    return "\n".join(["waiting room", *(f"{key.ljust(width)}  {value:>12,}"
                                         for key, value in values.items())])


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def figures_table(columns: dict[str, Figures], markdown: bool = False) -> str:
    """Figures as rows, one column per name (Deployment or policy)."""
    header = ["figure", *columns]
    rows = [[key, *(_cell(figures.as_dict()[key]) for figures in columns.values())]
            for key in FIGURE_KEYS]
    if markdown:
        rule = "|" + "|".join(["---"] + ["---:"] * len(columns)) + "|"
        lines = ["| " + " | ".join(header) + " |", rule]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    render = lambda row: "  ".join(  # noqa: E731
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)))
    return "\n".join([render(header), *(render(row) for row in rows)])


def deployment_table(measurement: Measurement) -> str:
    """One run's figures for web, workers and both together."""
    return figures_table({"web": measurement.web, "workers": measurement.workers,
                          "combined": measurement.combined})


def write_markdown(path: Path, title: str, runs: dict[str, Measurement],
                   timings: dict[str, float], context_lines: list[str]) -> None:
    """The figures of every policy side by side, combined and per Deployment."""
    parts = [f"# {title}", "", *context_lines, "", "## Web and workers together", "",
             figures_table({name: run.combined for name, run in runs.items()}, markdown=True),
             "", "## Web", "",
             figures_table({name: run.web for name, run in runs.items()}, markdown=True),
             "", "## Workers", "",
             figures_table({name: run.workers for name, run in runs.items()}, markdown=True),
             *_room_section(runs),
             "", "## Simulation time", "", "| policy | seconds |", "|---|---:|",
             *(f"| {name} | {seconds:.2f} |" for name, seconds in timings.items()), ""]
    path.write_text("\n".join(parts))


def _room_section(runs: dict[str, Measurement]) -> list[str]:
    """The line's figures of every policy, when the runs had the waiting room."""
    rooms = {name: run.room for name, run in runs.items() if run.room is not None}
    if not rooms:
        return []
    keys = list(next(iter(rooms.values())).as_dict())
    return ["", "## The waiting room's line", "", "| figure | " + " | ".join(rooms) + " |",
            "|" + "|".join(["---"] + ["---:"] * len(rooms)) + "|",
            *(f"| {key} | " + " | ".join(f"{room.as_dict()[key]:,}" for room in rooms.values())
              + " |" for key in keys)]


def write_timeline_png(path: Path, title: str, web_demand: np.ndarray,
                       workers_demand: np.ndarray, runs: dict[str, Downsampled]) -> None:
    """Small multiples: one row per policy (web | workers), each against the same demand,
    with the seconds that missed an SLO marked in red, so no policy hides behind another."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14, 2.2 * len(runs) + 1), layout="constrained")
    grid = figure.subplots(len(runs), 2, sharex=True, squeeze=False)
    bin_s = next(iter(runs.values())).bin_s
    seconds = len(web_demand) * bin_s
    unit, unit_s = (("minutes", 60) if seconds <= 3 * 3600 else
                    ("hours", 3600) if seconds <= 3 * 86400 else ("days", 86400))
    times = np.arange(len(web_demand)) * bin_s / unit_s
    web_top = max(float(np.max(web_demand)), *(float(np.max(r.web_ready)) for r in runs.values()))
    workers_top = max(float(np.max(workers_demand)),
                      *(float(np.max(r.workers_ready)) for r in runs.values()))
    for row, (name, run) in enumerate(runs.items()):
        web_axes, worker_axes = grid[row]
        missed = run.violation_s > 0
        for axes, ready, demand, top in ((web_axes, run.web_ready, web_demand, web_top),
                                         (worker_axes, run.workers_ready, workers_demand,
                                          workers_top)):
            axes.step(times, demand, where="post", color="black", linewidth=0.5,
                      label="demand (highest)")
            axes.step(times, ready, where="post", color="tab:blue", linewidth=0.8,
                      label="capacity ready (pods x in-pod size)")
            axes.fill_between(times, 0, top * 1.05, where=missed, step="post", color="red",
                              alpha=0.25, linewidth=0, label="SLO missed")
            axes.set_ylim(0, top * 1.05)
            axes.grid(alpha=0.3)
        web_axes.set_ylabel(name, fontweight="bold")
        web_axes.set_title(f"{name}: web pods, {int(run.violation_s.sum()):,} s with an SLO "
                           "missed", fontsize="small", loc="left")
        worker_axes.set_title(f"{name}: workers", fontsize="small", loc="left")
    grid[0][0].legend(loc="upper left", fontsize="x-small", ncols=3)
    for axes in grid[-1]:
        axes.set_xlabel(f"{unit} since the start of the trace")
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
