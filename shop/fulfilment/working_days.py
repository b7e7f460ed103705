"""Working days of a carrier: no dispatch and no delivery on weekends or its holidays.

A carrier's holidays are the public holidays of the place its parcels leave from — its
`origin_country`, and its region when it names one (`origin_subdivision`, ISO 3166-2 like
"DE-BY": Epiphany and Corpus Christi in Bavaria, not in Berlin) — from the `holidays`
package, which knows the moveable feasts (Good Friday, Easter Monday, Ascension, Whit Monday,
the UK's bank-holiday Mondays, Thanksgiving) year by year. Carriers everywhere stop over
Christmas and New Year, so 24, 25 and 26 December and 1 January are closed in every country,
listed by the package or not. The merchant's own list for the carrier (`holidays`: "MM-DD"
every year, "YYYY-MM-DD" once) adds to these; with `public_holidays` off, it is the only
list. Pure: no I/O (the package computes its dates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache

import holidays as public_holidays_package

# Closed for every carrier that keeps public holidays: what "Christmas" means to a parcel.
CHRISTMAS_AND_NEW_YEAR = ("01-01", "12-24", "12-25", "12-26")
_CHRISTMAS_NAMES = {"01-01": "New Year's Day", "12-24": "Christmas Eve",
                    "12-25": "Christmas Day", "12-26": "Second Day of Christmas"}
OWN_HOLIDAY_NAME = "Carrier holiday"

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

    country: str | None = None  # ISO 3166-1 alpha-2 its parcels leave from
    subdivision: str | None = None  # the package's code of the region, like "BY"
    own: tuple[str, ...] = ()  # the carrier's own days, "MM-DD" or "YYYY-MM-DD"
    public: bool = True  # False: only `own` counts, no public holidays, no Christmas

    def holidays(self, year: int) -> frozenset[date]:
        return _closed_set(self.country, self.subdivision, self.own, self.public, year)

    def named_holidays(self, year: int) -> dict[date, str]:
        return _closed_days(self.country, self.subdivision, self.own, self.public, year)

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
def _closed_set(country: str | None, subdivision: str | None, own: tuple[str, ...],
                public: bool, year: int) -> frozenset[date]:
    return frozenset(_closed_days(country, subdivision, own, public, year))


@lru_cache(maxsize=1024)
def _closed_days(country: str | None, subdivision: str | None, own: tuple[str, ...],
                 public: bool, year: int) -> dict[date, str]:
    days: dict[date, str] = {}
    if public:
        days.update(_public_holidays(country, subdivision, year))
        days.update(_dates_of(CHRISTMAS_AND_NEW_YEAR, year, _CHRISTMAS_NAMES))
    for day in _dates_of(own, year, {}):
        days.setdefault(day, OWN_HOLIDAY_NAME)
    return dict(sorted(days.items()))


def _dates_of(entries: tuple[str, ...], year: int, names: dict[str, str]) -> dict[date, str]:
    days = {}
    for entry in entries:
        match = _ENTRY.match(entry)
        if match is None:
            continue
        fixed_year, month, day = match.groups()
        if fixed_year is not None and int(fixed_year) != year:
            continue
        try:
            days[date(year, int(month), int(day))] = names.get(entry, OWN_HOLIDAY_NAME)
        except ValueError:  # 02-29 in a year without it
            continue
    return days


def _public_holidays(country: str | None, subdivision: str | None, year: int
                     ) -> dict[date, str]:
    """The public holidays of the country (and region) in `year`; none for a country the
    package does not know."""
    if country not in supported_countries():
        return {}
    found = public_holidays_package.country_holidays(country, subdiv=subdivision, years=year)
    return {day: name for day, name in found.items() if day.year == year}


def warm_up() -> None:
    """Set the package up now (about a quarter of a second, once per process: its country
    registry) rather than in the first shopper's shipping quote; gunicorn's workers are forked
    from a master that ran this, so none of them pays it again."""
    for country in sorted(supported_countries())[:1]:
        _public_holidays(country, None, date.today().year)


@cache
def supported_countries() -> frozenset[str]:
    return frozenset(public_holidays_package.list_supported_countries())


@cache
def subdivisions_of(country: str) -> tuple[str, ...]:
    """The regions the package knows holidays of, by their ISO 3166-2 code after the
    country's ("BY" of "DE-BY"); some are named instead ("Augsburg")."""
    if country not in supported_countries():
        return ()
    return tuple(public_holidays_package.country_holidays(country).subdivisions)


def parse_subdivision(value: object, country: str, field: str = "origin_subdivision") -> str:
    """A region of `country` from caller input, "DE-BY" (or "BY"), as the package's code;
    ValueError names what to send instead."""
    known = subdivisions_of(country)
    if not isinstance(value, str):
        raise ValueError(f"'{field}' must be an ISO 3166-2 code like \"{country}-"
                         f"{known[0] if known else 'XX'}\": got {type(value).__name__}")
    code = value.strip()
    prefix = f"{country}-"
    if code.upper().startswith(prefix):
        code = code[len(prefix):]
    for candidate in known:
        if candidate.casefold() == code.casefold():
            return candidate
    if not known:
        raise ValueError(f"'{field}': no regional holidays are known for {country}: leave it "
                         "out (the country's own public holidays apply)")
    shown = ", ".join(f"{country}-{code}" for code in known[:40])
    raise ValueError(f"'{field}' {value[:40]!r} is not a region of {country} with holidays of "
                     f"its own: use one of {shown}{', ...' if len(known) > 40 else ''}")


DEFAULT_CALENDAR = WorkingCalendar()


def upcoming_holidays(calendar: WorkingCalendar, today: date, days: int = 366
                      ) -> list[tuple[date, str]]:
    """The carrier's holidays from `today` on, for `days` days: what a merchant checks."""
    until = today + timedelta(days=days)
    found = []
    for year in range(today.year, until.year + 1):
        found.extend((day, name) for day, name in calendar.named_holidays(year).items()
                     if today <= day < until)
    return found
