"""Announced events: the crowds a merchant knows are coming (e-mail blasts, launches, openings).

An events file is CSV, either `minute,name,extra_peaks,duration_min` or
`second,name,extra_peaks,duration_s`, times counted from the start of the season (the same
clock as the traces). `extra_peaks` is the crowd an event adds, in units of that day's evening
peak. Events announced in the shop (`GET /api/v1/ops/events`) give `expected_peak_rps`
instead: an absolute crowd in requests/s (`extra_rps`); see `scaler.shop_events`.
Overlapping events add up, whichever way they were given.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaler.text_files import UnreadableFile, read_text

HEADERS = {
    ("minute", "name", "extra_peaks", "duration_min"): 60,
    ("second", "name", "extra_peaks", "duration_s"): 1,
}
SECONDS_HEADER = ("second", "name", "extra_peaks", "duration_s")

# A crowd of a thousand evening peaks is far past any launch; more only overflows sizing.
MAX_EXTRA_PEAKS = 1000
MAX_START_S = 366 * 24 * 3600
MAX_DURATION_S = 14 * 24 * 3600


class EventsFileError(ValueError):
    """An events file that cannot be used; the message names the problem and the fix."""


@dataclass(frozen=True)
class Event:
    """One announced event, in seconds from the start of the season."""

    start_s: float
    name: str
    extra_peaks: float
    duration_s: float
    extra_rps: float = 0.0        # an absolute crowd (the shop's expected_peak_rps)
    id: str | None = None         # the shop's event id, to record the plan against

    @property
    def end_s(self) -> float:
        """When the announced crowd is gone."""
        return self.start_s + self.duration_s


class CrowdTimeline:
    """The extra peaks to be ready for at each moment, as a step function.

    An event counts from `lead_s` before its start until `hold_s` after it (or its end, if
    sooner): the window in which a scaler should hold capacity for it. Built once, read with
    one binary search.
    """

    def __init__(self, events: Sequence[Event], lead_s: float, hold_s: float) -> None:
        spans = [(event.start_s - lead_s, min(event.start_s + hold_s, event.end_s), event)
                 for event in events]
        self._edges = sorted({edge for start, stop, _ in spans for edge in (start, stop)})
        # Each step's sum is added up afresh, so a step with no event is exactly 0.0.
        self._levels = [sum(event.extra_peaks for start, stop, event in spans
                            if start <= edge < stop) for edge in self._edges]
        self._rps_levels = [sum(event.extra_rps for start, stop, event in spans
                                if start <= edge < stop) for edge in self._edges]

    def at(self, at_s: float) -> float:
        """Extra evening peaks to be ready for at `at_s`."""
        step = bisect.bisect_right(self._edges, at_s) - 1
        return self._levels[step] if step >= 0 else 0.0

    def rps_at(self, at_s: float) -> float:
        """Extra requests/s announced in absolute terms to be ready for at `at_s`."""
        step = bisect.bisect_right(self._edges, at_s) - 1
        return self._rps_levels[step] if step >= 0 else 0.0

    def span_at(self, at_s: float) -> tuple[float, float, float, float]:
        """(from_s, until_s, `at`, `rps_at`): the step `at_s` lies in, so that a caller
        asking every few seconds searches again only once the step is over."""
        step = bisect.bisect_right(self._edges, at_s) - 1
        from_s = self._edges[step] if step >= 0 else -math.inf
        until_s = self._edges[step + 1] if step + 1 < len(self._edges) else math.inf
        if step < 0:
            return from_s, until_s, 0.0, 0.0
        return from_s, until_s, self._levels[step], self._rps_levels[step]

    def levels_at(self, at_s: float) -> tuple[float, float]:
        """(`at`, `rps_at`) with one search: a policy asks for both every decision."""
        if not self._edges:
            return 0.0, 0.0
        step = bisect.bisect_right(self._edges, at_s) - 1
        return (self._levels[step], self._rps_levels[step]) if step >= 0 else (0.0, 0.0)


class EventSchedule:
    """Events sorted by start, with fast look-ups around a moment."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events: tuple[Event, ...] = tuple(sorted(events, key=lambda event: event.start_s))
        self._starts = [event.start_s for event in self.events]
        self._longest_s = max((event.duration_s for event in self.events), default=0.0)

    def __len__(self) -> int:
        return len(self.events)

    def crowd_timeline(self, lead_s: float, hold_s: float) -> CrowdTimeline:
        """The step function of extra peaks to prepare for, `lead_s` ahead, `hold_s` after."""
        return CrowdTimeline(self.events, lead_s, hold_s)

    def starting_between(self, from_s: float, to_s: float) -> Sequence[Event]:
        """Events whose start lies in [from_s, to_s]."""
        first = bisect.bisect_left(self._starts, from_s)
        last = bisect.bisect_right(self._starts, to_s)
        return self.events[first:last]

    def overlapping(self, from_s: float, to_s: float) -> Sequence[Event]:
        """Events running at any moment of [from_s, to_s)."""
        candidates = self.starting_between(from_s - self._longest_s, to_s)
        return [event for event in candidates if event.end_s > from_s and event.start_s < to_s]


def parse_events(text: str, source: str = "events") -> EventSchedule:
    """Parse an events CSV, or raise EventsFileError naming the line and the fix."""
    try:
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    except csv.Error as error:
        raise EventsFileError(f"{source} is not a CSV file: {error}") from None
    if not rows:
        raise EventsFileError(f"{source} is empty: expected a header "
                              "'minute,name,extra_peaks,duration_min'")
    header = tuple(cell.strip() for cell in rows[0])
    if header not in HEADERS:
        raise EventsFileError(
            f"{source}: header {','.join(header)!r} is not an events header: use "
            "'minute,name,extra_peaks,duration_min' or 'second,name,extra_peaks,duration_s'")
    unit_s = HEADERS[header]
    events = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{source} line {line_number}"
        if len(row) != 4:
            raise EventsFileError(f"{where}: expected 4 values, got {len(row)}")
        try:
            start, extra, duration = float(row[0]), float(row[2]), float(row[3])
        except ValueError:
            raise EventsFileError(f"{where}: {header[0]}, extra_peaks and {header[3]} must be "
                                  f"numbers, got {row!r}") from None
        name = row[1].strip()
        _check_event(where, start, name, extra, duration)
        _check_span(where, start * unit_s, duration * unit_s)
        events.append(Event(start * unit_s, name, extra, duration * unit_s))
    return EventSchedule(events)


def _check_event(where: str, start: float, name: str, extra: float, duration: float) -> None:
    if not all(math.isfinite(value) for value in (start, extra, duration)) or start < 0:
        raise EventsFileError(f"{where}: the start must be a finite time >= 0")
    if not name:
        raise EventsFileError(f"{where}: the event needs a name")
    if not 0 <= extra <= MAX_EXTRA_PEAKS:
        raise EventsFileError(f"{where}: extra_peaks must be from 0 to {MAX_EXTRA_PEAKS}, "
                              f"got {extra:g}")
    if duration <= 0:
        raise EventsFileError(f"{where}: the duration must be > 0, got {duration}")


def _check_span(where: str, start_s: float, duration_s: float) -> None:
    """Within a year, and no longer than a shop may announce (two weeks): an event is a
    moment of a season, and the forecast walks every minute of it."""
    if start_s > MAX_START_S:
        raise EventsFileError(f"{where}: the start must lie within a year of the season's "
                              f"start ({MAX_START_S:g} s), got {start_s:g} s")
    if duration_s > MAX_DURATION_S:
        raise EventsFileError(f"{where}: an event lasts at most two weeks ({MAX_DURATION_S:g} "
                              f"s), got {duration_s:g} s: split a longer sale into events")


def load_events(path: str | Path, origin_s: float | None = None) -> EventSchedule:
    """Read an events file (CSV, or the shop's JSON `{"items": [...]}`), or raise
    EventsFileError. A JSON file's RFC 3339 times are placed on the season clock by
    `origin_s`, the epoch seconds of minute 0."""
    path = Path(path)
    try:
        text = read_text(path, "events file")
    except UnreadableFile as error:
        raise EventsFileError(str(error)) from None
    if text.lstrip().startswith("{"):
        from scaler.shop_events import parse_shop_events

        if origin_s is None:
            raise EventsFileError(f"{path} gives times as RFC 3339: give --season-start (the "
                                  "calendar day of the trace's minute 0) to place them")
        return EventSchedule(parse_shop_events(text, origin_s, str(path)))
    return parse_events(text, str(path))


def add_event(path: str | Path, start_s: float, name: str, extra_peaks: float,
              duration_s: float) -> Event:
    """Append one event to an events file (created in seconds if missing) and return it.

    A minute-based file only takes whole minutes, so that it stays one unit throughout.
    """
    path = Path(path)
    name = name.strip()
    if any(character in name for character in ',"\n\r'):
        raise EventsFileError(f"event name {name!r} may not contain commas, quotes or newlines")
    _check_event(f"event {name!r}", start_s, name, extra_peaks, duration_s)
    existing = path.read_text() if path.exists() else ""
    if existing.strip():
        parse_events(existing, str(path))  # never append to a file that is already broken
        header = tuple(cell.strip() for cell in next(csv.reader(io.StringIO(existing))))
        prefix = "" if existing.endswith("\n") else "\n"
    else:
        header, prefix = SECONDS_HEADER, ",".join(SECONDS_HEADER) + "\n"
    unit_s = HEADERS[header]
    if start_s % unit_s or duration_s % unit_s:
        raise EventsFileError(f"{path} counts in minutes: give a start and a duration in whole "
                              "minutes, or use a file with header 'second,name,extra_peaks,"
                              "duration_s'")
    row = [_number(start_s / unit_s), name, _number(extra_peaks), _number(duration_s / unit_s)]
    mode = "a" if existing.strip() else "w"
    with path.open(mode) as handle:
        handle.write(prefix + ",".join(row) + "\n")
    return Event(float(start_s), name, float(extra_peaks), float(duration_s))


def _number(value: float) -> str:
    """Whole numbers without a trailing '.0', so files stay as people write them."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
