"""Forecasts from the past only: what traffic the coming minutes held on earlier days.

`RateHistory` keeps per-minute averages of what the scaler observed, on the season clock
(minute 0 = the start of the season, as in the traces and events files). The caller records
each observation; the `Forecaster` only reads. A previous season's trace can be added,
aligned by minute of the season and day of the week.
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import operator
from dataclasses import dataclass
from pathlib import Path

from scaler.events import EventSchedule
from scaler.model import MAX_RATE, Observation

DAY_MIN = 24 * 60
WEEK_MIN = 7 * DAY_MIN

# The history is kept minute by minute in memory: ten seasons is plenty.
MAX_HISTORY_MINUTE = 10 * 366 * 24 * 60


class HistoryFileError(ValueError):
    """A history file that cannot be used; the message names the problem and the fix."""


class RateHistory:
    """Per-minute mean request and order rates, indexed by minute of the season."""

    def __init__(self, origin_s: float = 0.0) -> None:
        self.origin_s = origin_s
        # Running sums and counts per minute, and the means kept ready for fast reading.
        self._request_sums: list[float] = []
        self._request_counts: list[int] = []
        self._order_sums: list[float] = []
        self._order_counts: list[int] = []
        self.request_means: list[float | None] = []
        self.order_means: list[float | None] = []

    def __len__(self) -> int:
        return len(self._request_counts)

    def _grow(self, minute: int) -> None:
        # A day at a time: a live scaler files a new minute every minute.
        missing = max(minute + 1 - len(self._request_counts), 0)
        if missing > 0:
            missing = max(missing, DAY_MIN)
            for column, empty in ((self._request_sums, 0.0), (self._request_counts, 0),
                                  (self._order_sums, 0.0), (self._order_counts, 0),
                                  (self.request_means, None), (self.order_means, None)):
                column.extend([empty] * missing)

    def add(self, minute: int, request_rate: float | None, order_rate: float | None) -> None:
        """Add one reading of the rates to a minute of the season."""
        if minute < 0:
            return
        if minute >= len(self._request_counts):
            self._grow(minute)
        # (Each total read and written once: a replay files half a million readings.)
        if request_rate is not None:
            total = self._request_sums[minute] + request_rate
            count = self._request_counts[minute] + 1
            self._request_sums[minute], self._request_counts[minute] = total, count
            self.request_means[minute] = total / count
        if order_rate is not None:
            total = self._order_sums[minute] + order_rate
            count = self._order_counts[minute] + 1
            self._order_sums[minute], self._order_counts[minute] = total, count
            self.order_means[minute] = total / count

    def add_totals(self, minute: int, request_sum: float, request_count: int,
                   order_sum: float, order_count: int) -> None:
        """Set one minute from its sums and counts (as a store keeps them)."""
        if minute < 0:
            return
        if minute >= len(self._request_counts):
            self._grow(minute)
        if request_count:
            self._request_sums[minute], self._request_counts[minute] = request_sum, request_count
            self.request_means[minute] = request_sum / request_count
        if order_count:
            self._order_sums[minute], self._order_counts[minute] = order_sum, order_count
            self.order_means[minute] = order_sum / order_count

    def record(self, observation: Observation) -> None:
        """File an observation under the minute its readings describe."""
        measured_s = observation.at_s - observation.age_s - self.origin_s
        self.add(int(measured_s // 60), observation.request_rate, observation.orders_rate)

    def request_rate(self, minute: int) -> float | None:
        """Mean request rate of one minute, None if nothing was observed then."""
        return self.request_means[minute] if 0 <= minute < len(self.request_means) else None

    def order_rate(self, minute: int) -> float | None:
        """Mean order rate of one minute, None if nothing was observed then."""
        return self.order_means[minute] if 0 <= minute < len(self.order_means) else None

    def request_rates(self, start: int, stop: int) -> list[float | None]:
        """Per-minute request rates over [start, stop), None where nothing was observed."""
        if 0 <= start <= stop <= len(self.request_means):
            return self.request_means[start:stop]      # all within what is kept (common)
        inside = self.request_means[max(start, 0) : max(stop, 0)]
        before = min(max(-start, 0), stop - start)
        after = (stop - start) - before - len(inside)
        return [None] * before + inside + [None] * after

    def save(self, path: str | Path) -> None:
        """Write the minutes observed so far as `minute,rps,orders_per_s`."""
        with Path(path).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["minute", "rps", "orders_per_s"])
            for minute in range(len(self)):
                rate = self.request_rate(minute)
                if rate is not None:
                    orders = self.order_rate(minute)
                    writer.writerow([minute, round(rate, 4),
                                     "" if orders is None else round(orders, 5)])


def load_rate_history(path: str | Path, origin_s: float = 0.0) -> RateHistory:
    """Read `minute,rps[,orders_per_s]` (a season trace or a saved history; gaps allowed).

    `origin_s` is the clock time of minute 0, for a history that goes on recording.
    """
    path = Path(path)
    history = RateHistory(origin_s)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise HistoryFileError(f"history file not found: {path} "
                               "(give a previous season's trace file)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise HistoryFileError(f"cannot read history file {path}: {error}") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header[:2] != ["minute", "rps"] or header[2:] not in ([], ["orders_per_s"]):
        raise HistoryFileError(f"{path}: a history needs the header 'minute,rps[,orders_per_s]' "
                               "(per-minute, like the season traces)")
    for line_number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            minute, rate = int(row[0]), float(row[1])
            orders = float(row[2]) if len(row) > 2 and row[2].strip() else None
        except (ValueError, IndexError):
            raise HistoryFileError(f"{path} line {line_number}: expected "
                                   f"'minute,rps[,orders_per_s]' numbers, got {row!r}") from None
        if not 0 <= minute <= MAX_HISTORY_MINUTE:
            raise HistoryFileError(f"{path} line {line_number}: minute must be from 0 to "
                                   f"{MAX_HISTORY_MINUTE} (ten seasons), got {minute}")
        if not all(math.isfinite(value) and 0 <= value <= MAX_RATE
                   for value in (rate, orders or 0.0)):
            raise HistoryFileError(f"{path} line {line_number}: rates must be from 0 to "
                                   f"{MAX_RATE:g} per second")
        history.add(minute, rate, orders)
    return history


def weekday_shift_days(season_weekday: int, previous_weekday: int) -> int:
    """Days to add to a minute of this season to land on the same weekday last season.

    Weekdays are 0 = Monday .. 6 = Sunday, of each season's minute 0; the shift is kept
    within -3..3 so that the two days stay as close in the season as possible.
    """
    shift = (season_weekday - previous_weekday) % 7
    return shift - 7 if shift > 3 else shift


def highest_level(rates: list[float | None], width: int) -> float | None:
    """The highest mean over `width` consecutive minutes (missing minutes left out)."""
    if len(rates) >= width and None not in rates:
        # Every minute known (nearly always): the highest sum of `width` minutes, over width
        # (a division by the same number keeps the order, so this is the highest mean).
        sums = list(itertools.accumulate(rates, initial=0.0))
        return max(map(operator.sub, sums[width:], sums)) / width
    # Running sums, so each window costs two look-ups.
    sums = list(itertools.accumulate([rate or 0.0 for rate in rates], initial=0.0))
    counts = list(itertools.accumulate([rate is not None for rate in rates], initial=0))
    best = None
    for start in range(max(len(rates) - width + 1, 1)):
        stop = min(start + width, len(rates))
        known = counts[stop] - counts[start]
        if known:
            mean = (sums[stop] - sums[start]) / known
            if best is None or mean > best:
                best = mean
    return best


@dataclass(frozen=True)
class ForecastSettings:
    trend_window_min: int = 60          # how far back today is compared with the references
    trend_refresh_min: int = 15         # an hour's median moves slowly: reuse it this long
    reference_halfwidth_min: int = 2    # a reference's level at a minute: mean over +-this
    refresh_min: int = 5                # one outlook serves this many minutes
    trend_low: float = 0.5              # the trend is bounded: a reference is never ignored
    trend_high: float = 2.0
    evening_start_min: int = 17 * 60    # "that day's evening peak" is sought in this window
    evening_end_min: int = 23 * 60
    evening_days: int = 3               # the median over this many previous evenings
    event_guard_before_min: int = 5     # minutes around known events left out of evening peaks
    event_guard_after_min: int = 30
    rise_days: int = 7                  # sudden rises are looked for on each of these last days


@dataclass(frozen=True)
class Outlook:
    """What the past says about the coming minutes."""

    minute: int                   # minute of the season the outlook was made in
    until_minute: int             # ... and the first minute it no longer serves
    rate: float | None            # highest request rate expected at the forecast horizon
    evening_peak: float | None    # this day's evening peak, as far as the past tells
    rise: float | None = None     # the largest one-minute rise seen around these minutes


class Forecaster:
    """Seasonal forecasts from yesterday, last week and (optionally) last season; read-only."""

    def __init__(self, history: RateHistory, previous: RateHistory | None = None,
                 previous_shift_days: int = 0, events: EventSchedule | None = None,
                 settings: ForecastSettings | None = None) -> None:
        self.history = history
        self.previous = previous
        self.previous_shift_min = previous_shift_days * DAY_MIN
        self.events = events or EventSchedule()
        self.settings = settings or ForecastSettings()
        self._evening_memo: dict[int, float | None] = {}
        self._trend_memo: dict[tuple[int, int], tuple[int, float | None]] = {}
        self._rise_memo: dict[int, tuple[list, list[float]]] = {}

    def _references(self) -> list[tuple[RateHistory, int]]:
        """(source, offset): reference minute = minute of today + offset."""
        references = [(self.history, -DAY_MIN), (self.history, -WEEK_MIN)]
        if self.previous is not None:
            references.append((self.previous, self.previous_shift_min))
        return references

    def trend(self, now_min: int, source: RateHistory, offset: int) -> float | None:
        """Median ratio of the last hour today to the same hour in a reference.

        Taken at the start of each trend_refresh_min interval and reused within it.
        """
        taken_min = now_min - now_min % self.settings.trend_refresh_min
        key = (id(source), offset)
        memo = self._trend_memo.get(key)
        if memo is None or memo[0] != taken_min:
            memo = (taken_min, self._median_ratio(taken_min, source, offset))
            self._trend_memo[key] = memo
        return memo[1]

    def _median_ratio(self, now_min: int, source: RateHistory, offset: int) -> float | None:
        start = now_min - self.settings.trend_window_min
        today = self.history.request_rates(start, now_min)
        before = source.request_rates(start + offset, now_min + offset)
        ratios = sorted([now / then for now, then in zip(today, before, strict=True)
                         if now is not None and then])
        if not ratios:
            return None
        middle = ratios[len(ratios) // 2]
        return min(max(middle, self.settings.trend_low), self.settings.trend_high)

    def expected_rate(self, now_min: int, target_min: int, target_end_min: int | None = None,
                      trends: dict[tuple[int, int], float | None] | None = None) -> float | None:
        """The highest level the references had over [target_min, target_end_min], scaled by
        today's trend.

        A reference's level at a minute is its mean over +-reference_halfwidth_min, so a
        forecast expects the rise of the day and not the noise of one minute. Only minutes
        before `now_min` of this season are read; the lowest of the references is kept, so
        that a one-off crowd on one earlier day is not expected again.
        """
        halfwidth = self.settings.reference_halfwidth_min
        target_end_min = target_min if target_end_min is None else target_end_min
        expectations = []
        for source, offset in self._references():
            first, last = target_min + offset - halfwidth, target_end_min + offset + halfwidth
            if source is self.history and last >= now_min:
                continue  # that would read the future
            level = highest_level(source.request_rates(first, last + 1), 2 * halfwidth + 1)
            if level is None:
                continue
            scale = self.trend(now_min, source, offset)
            if trends is not None:
                trends[id(source), offset] = scale
            if scale is not None:
                expectations.append(level * scale)
        return min(expectations) if expectations else None

    def highest_rise(self, now_min: int, target_min: int,
                     target_end_min: int | None = None) -> float | None:
        """The largest one-minute rise (a minute's rate over the minute before's) any
        reference had around [target_min, target_end_min]; None when none is known.

        Unannounced crowds recur at the times shops send their e-mails and posts: a rise
        seen there on any of the last `rise_days` days (or last season) is the volatility to
        keep standby capacity for. The largest, not the lowest: a surprise seen once may come
        again. Rises around the events announced for this season are explained, not
        surprises.
        """
        halfwidth = self.settings.reference_halfwidth_min
        target_end_min = target_min if target_end_min is None else target_end_min
        first, last = target_min - halfwidth, target_end_min + halfwidth
        rises = self._rises(self.history, now_min - 2)
        tops = [max(rises[max(first - back, 0) : max(last + 1 - back, 0)], default=0.0)
                for back in range(DAY_MIN, (self.settings.rise_days + 1) * DAY_MIN, DAY_MIN)
                if last - back < now_min]        # never the future
        if self.previous is not None:
            shift = self.previous_shift_min
            rises = self._rises(self.previous, last + shift + 1)
            tops.append(max(rises[max(first + shift, 0) : max(last + shift + 1, 0)],
                            default=0.0))
        highest = max(tops, default=0.0)
        return highest if highest > 0.0 else None

    def _rises(self, source: RateHistory, final_min: int) -> list[float]:
        """Each minute's rise over the minute before (0.0: unknown, or around an announced
        event), worked out once per minute as minutes before `final_min` are final (readings
        arrive up to a scrape late); seven days look at each minute."""
        means = source.request_means
        memo = self._rise_memo.get(id(source))
        if memo is None or memo[0] is not means:   # a new history, or one reloaded
            memo = (means, [])
            self._rise_memo[id(source)] = memo
        rises = memo[1]
        disturbed = self._disturbed_minutes if source is self.history else frozenset()
        for minute in range(len(rises), min(final_min, len(means))):
            before, after = (means[minute - 1] if minute else None), means[minute]
            explained = minute in disturbed or minute - 1 in disturbed
            rises.append(after / before if before and after and not explained else 0.0)
        return rises

    @functools.cached_property
    def _disturbed_minutes(self) -> frozenset[int]:
        """Minutes an announced event explains: from event_guard_before_min before its start
        to event_guard_after_min after its end."""
        before_s = self.settings.event_guard_before_min * 60
        after_s = self.settings.event_guard_after_min * 60
        return frozenset(minute for event in self.events.events
                         for minute in range(int((event.start_s - before_s) // 60),
                                             int(-(-(event.end_s + after_s) // 60))))

    def _evening_peak_of(self, day: int) -> float | None:
        """The highest minute of one day's evening, leaving out known events."""
        start = day * DAY_MIN + self.settings.evening_start_min
        stop = day * DAY_MIN + self.settings.evening_end_min
        guard_before = self.settings.event_guard_before_min * 60
        guard_after = self.settings.event_guard_after_min * 60
        disturbed = [(event.start_s - guard_before, event.end_s + guard_after)
                     for event in self.events.overlapping(start * 60 - guard_after,
                                                          stop * 60 + guard_before)]
        rates = self.history.request_rates(start, stop)
        for lo, hi in disturbed:
            for minute in range(max(start, int(lo // 60)), min(stop, int(-(-hi // 60)))):
                rates[minute - start] = None
        return max((rate for rate in rates if rate is not None), default=None)

    def evening_peak(self, now_min: int, trend: float | None = None) -> float | None:
        """This day's evening peak: the median of the last evenings, scaled by the trend."""
        today = now_min // DAY_MIN
        if today not in self._evening_memo:
            peaks = sorted(peak for peak in (self._evening_peak_of(day) for day in
                           range(today - self.settings.evening_days, today)) if peak is not None)
            self._evening_memo[today] = peaks[len(peaks) // 2] if peaks else None
        peak = self._evening_memo[today]
        if peak is None:
            return None
        if trend is None:
            trend = self.trend(now_min, self.history, -DAY_MIN)
        return peak * (trend or 1.0)

    def outlook(self, season_s: float, ahead_s: float) -> Outlook:
        """The highest rate expected `ahead_s` from now until the next refresh, and this day's
        evening peak, from the past only. `season_s` counts from minute 0 of the season."""
        now_min = int(season_s // 60)
        until_min = now_min + self.settings.refresh_min
        target_min = int((season_s + ahead_s) // 60)
        trends: dict[tuple[int, int], float | None] = {}
        expected = self.expected_rate(now_min, target_min, target_min + self.settings.refresh_min,
                                      trends)
        return Outlook(now_min, until_min, expected,
                       self.evening_peak(now_min, trends.get((id(self.history), -DAY_MIN))),
                       self.highest_rise(now_min, target_min,
                                         target_min + self.settings.refresh_min))
