"""Working days of a carrier: no dispatch and no delivery on weekends or its holidays.

A carrier's holidays are its own list when the merchant gave one (`holidays` on the carrier:
`"MM-DD"` every year, `"YYYY-MM-DD"` once), else the public holidays of the country its
parcels leave from (`origin_country`), from `PUBLIC_HOLIDAYS` below. Pure: no I/O.

`PUBLIC_HOLIDAYS` holds the national holidays that fall on the same date every year. No
library for public holidays is in the lock, so this documented table stands in for one;
moveable feasts (Easter Monday, Ascension, Whit Monday, the UK's bank-holiday Mondays,
Thanksgiving) and regional holidays are not in it: a merchant adds them to the carrier's own
list. Carriers everywhere stop over Christmas and New Year, so every country, listed or not,
closes on 24, 25 and 26 December and 1 January.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

# Closed for every carrier, whatever the country: what "Christmas" means to a parcel.
CHRISTMAS_AND_NEW_YEAR = ("01-01", "12-24", "12-25", "12-26")

# ISO 3166-1 alpha-2 -> fixed-date national public holidays, besides the days above.
PUBLIC_HOLIDAYS: dict[str, tuple[str, ...]] = {
    "AT": ("01-06", "05-01", "08-15", "10-26", "11-01", "12-08"),
    "BE": ("05-01", "07-21", "08-15", "11-01", "11-11"),
    "CH": ("08-01",),
    "DE": ("05-01", "10-03"),
    "DK": ("06-05",),
    "ES": ("01-06", "05-01", "08-15", "10-12", "11-01", "12-06", "12-08"),
    "FI": ("01-06", "05-01", "12-06"),
    "FR": ("05-01", "05-08", "07-14", "08-15", "11-01", "11-11"),
    "GB": (),
    "IE": ("03-17",),
    "IT": ("01-06", "04-25", "05-01", "06-02", "08-15", "11-01", "12-08"),
    "NL": ("04-27",),
    "PL": ("01-06", "05-01", "05-03", "08-15", "11-01", "11-11"),
    "PT": ("04-25", "05-01", "06-10", "08-15", "10-05", "11-01", "12-01", "12-08"),
    "SE": ("01-06", "05-01", "06-06"),
    "US": ("06-19", "07-04", "11-11"),
}

MAX_HOLIDAYS = 100
# A promise is never planned further out than this; past it, something is misconfigured.
MAX_SEARCH_DAYS = 3 * 366
SATURDAY = 5
_ENTRY = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$")


def parse_holidays(value: object, field: str = "holidays") -> tuple[str, ...]:
    """A carrier's own holiday list from caller input; ValueError names the entry and fix."""
    if not isinstance(value, list):
        raise ValueError(f"'{field}' must be a list of dates like \"12-31\" (every year) or "
                         f"\"2026-12-31\" (once): got {type(value).__name__}")
    if len(value) > MAX_HOLIDAYS:
        raise ValueError(f"'{field}' holds {len(value)} dates: at most {MAX_HOLIDAYS}")
    entries = []
    for index, entry in enumerate(value):
        match = _ENTRY.match(entry) if isinstance(entry, str) else None
        year, month, day = match.groups() if match else (None, "0", "0")
        try:
            date(int(year or 2000), int(month), int(day))  # 2000 is a leap year: 02-29 is fine
        except ValueError:
            match = None
        if match is None:
            shown = repr(entry)[:40]
            raise ValueError(f"'{field}[{index}]' is not a date like \"12-31\" (every year) or "
                             f"\"2026-12-31\" (once): got {shown}")
        entries.append(entry)
    return tuple(sorted(set(entries)))


@dataclass(frozen=True)
class WorkingCalendar:
    """When a carrier works: Monday to Friday, except its holidays."""

    country: str | None = None  # public holidays of this country, unless `own` is given
    own: tuple[str, ...] | None = None  # the carrier's own list, replacing the public one

    def holidays(self, year: int) -> frozenset[date]:
        return _closed_days(self.country, self.own, year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < SATURDAY and day not in self.holidays(day.year)

    def next_working_day(self, day: date) -> date:
        """`day` itself when the carrier works then, else the first working day after it."""
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError(f"no working day within {MAX_SEARCH_DAYS} days of {day}: the carrier's "
                         "holidays leave it no day to work")

    def add_working_days(self, day: date, count: int) -> date:
        """The working day `count` working days after `day` (itself, moved to a working day,
        when `count` is 0): a parcel dispatched on `day` with `count` days in transit."""
        day = self.next_working_day(day)
        for _ in range(count):
            day = self.next_working_day(day + timedelta(days=1))
        return day

    def subtract_working_days(self, day: date, count: int) -> date:
        """The inverse of `add_working_days` for a working `day`: when it was dispatched."""
        for _ in range(count):
            day -= timedelta(days=1)
            for _ in range(MAX_SEARCH_DAYS):
                if self.is_working_day(day):
                    break
                day -= timedelta(days=1)
        return day

    def last_dispatch_day(self, deliver_by: date, transit_days: int) -> date:
        """The last working day a parcel can leave and still arrive on or before `deliver_by`."""
        arrival = deliver_by
        while not self.is_working_day(arrival):
            arrival -= timedelta(days=1)
        return self.subtract_working_days(arrival, transit_days)


@lru_cache(maxsize=1024)
def _closed_days(country: str | None, own: tuple[str, ...] | None, year: int
                 ) -> frozenset[date]:
    entries = own if own is not None else (*CHRISTMAS_AND_NEW_YEAR,
                                           *PUBLIC_HOLIDAYS.get(country or "", ()))
    days = set()
    for entry in entries:
        match = _ENTRY.match(entry)
        if match is None:
            continue
        fixed_year, month, day = match.groups()
        if fixed_year is not None and int(fixed_year) != year:
            continue
        try:
            days.add(date(year, int(month), int(day)))
        except ValueError:  # 02-29 in a year without it
            continue
    return frozenset(days)


DEFAULT_CALENDAR = WorkingCalendar()


def holidays_of(carrier) -> tuple[str, ...]:
    """The holiday entries a carrier row works by: its own list, else its country's."""
    if carrier.holidays is not None:
        return tuple(carrier.holidays)
    return tuple(sorted({*CHRISTMAS_AND_NEW_YEAR,
                         *PUBLIC_HOLIDAYS.get(carrier.origin_country or "", ())}))
