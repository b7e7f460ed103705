"""Forecasts from the past only: what traffic the coming minutes held on earlier days.

The `Forecaster` reads a `RateHistory` (scaler/rate_history.py) of this season and, when
given, of the previous one, aligned by minute of the season and day of the week.
"""

from __future__ import annotations

import functools
import itertools
import operator
from dataclasses import dataclass

from scaler.events import EventSchedule
from scaler.rate_history import DAY_MIN, WEEK_MIN, RateHistory


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
        # (first, stop) -> the highest of rises[first:stop], for spans of final rises only
        self._rise_tops: dict[int, dict[tuple[int, int], float]] = {}

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
        final = len(rises)
        # Each span of final rises is looked at on rise_days days: its highest is kept.
        # (The highest so far is carried, not listed: rises are never below 0.0.)
        known = self._rise_tops[id(self.history)]
        highest = 0.0
        for back in range(DAY_MIN, (self.settings.rise_days + 1) * DAY_MIN, DAY_MIN):
            if last - back >= now_min:
                continue                          # never the future
            start, stop = first - back, last + 1 - back
            span = (start if start > 0 else 0, stop if stop > 0 else 0)
            top = known.get(span)
            if top is None:
                top = max(rises[span[0] : span[1]], default=0.0)
                if span[1] <= final:              # every rise in it final: kept
                    known[span] = top
            if top > highest:
                highest = top
        if self.previous is not None:
            shift = self.previous_shift_min
            rises = self._rises(self.previous, last + shift + 1)
            top = max(rises[max(first + shift, 0) : max(last + shift + 1, 0)], default=0.0)
            if top > highest:
                highest = top
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
            self._rise_tops[id(source)] = {}
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
