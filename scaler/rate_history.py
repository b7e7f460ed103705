"""What the scaler observed, minute by minute, on the season clock.

`RateHistory` keeps per-minute averages of the request and order rates (minute 0 = the start
of the season, as in the traces and events files). The caller records each observation; the
forecaster (scaler/forecast.py) only reads it. A previous season's trace loads as a history of
its own, aligned by minute of the season and day of the week.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

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
        self._add_kept(minute, request_rate, order_rate)

    def _add_kept(self, minute: int, request_rate: float | None,
                  order_rate: float | None) -> None:
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
        minute = int((observation.at_s - observation.age_s - self.origin_s) // 60)
        request_rate, order_rate = observation.request_rate, observation.orders_rate
        if not 0 <= minute < len(self._request_counts):
            self.add(minute, request_rate, order_rate)
            return
        self._add_kept(minute, request_rate, order_rate)

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
