"""A wall-clock time in a named time zone or at a UTC offset, as the RFC 3339 time the events
service takes. Pure functions: no I/O, no side effects.

A merchant thinks "Friday 18:00 in Berlin"; the service wants "2026-11-27T18:00:00+01:00".
Zone names come from the IANA database (`zoneinfo`); fixed offsets ("UTC+05:30") are there
for places whose rules the merchant would rather not trust, and for machines without tzdata.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache

UTC_NAME = "UTC"
_OFFSET = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")
# Every offset in use somewhere, from Baker Island to Kiribati.
OFFSET_MINUTES = sorted({hours * 60 for hours in range(-12, 15)}
                        | {-570, -210, 210, 270, 330, 345, 390, 525, 570, 630, 765})


def offset_name(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zones this machine knows (none when it has no tzdata), sorted."""
    return tuple(sorted(name for name in zoneinfo.available_timezones()
                        if "/" in name and not name.startswith(("Etc/", "SystemV/"))))


def offset_names() -> tuple[str, ...]:
    return tuple(offset_name(minutes) for minutes in OFFSET_MINUTES)


def zone(name: str) -> tzinfo:
    """The zone called `name` (IANA name, UTC, or UTC+hh:mm); ValueError names the fix."""
    if name == UTC_NAME:
        return UTC
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes = match.groups()
        total = int(hours) * 60 + int(minutes)
        if total > 14 * 60 or int(minutes) >= 60:
            raise ValueError(f"{name} is not a UTC offset in use: pick one from UTC-12:00 to "
                             "UTC+14:00")
        return timezone(timedelta(minutes=total if sign == "+" else -total))
    if name in zone_names():
        return zoneinfo.ZoneInfo(name)
    raise ValueError(f"unknown time zone {name!r}: pick a zone like Europe/Berlin, or a UTC "
                     "offset like UTC+01:00")


def to_rfc3339(wall_clock: datetime, zone_name: str) -> str:
    """`wall_clock` (naive) read in `zone_name`, as RFC 3339 with its offset.

    A time the clocks skip when they spring forward does not exist: ValueError says so
    rather than silently moving the event by an hour. A time that happens twice when they
    fall back is read as the first of the two (before the change).
    """
    where = zone(zone_name)
    local = wall_clock.replace(tzinfo=where, fold=0)
    round_trip = local.astimezone(UTC).astimezone(where).replace(tzinfo=None)
    if round_trip != wall_clock.replace(tzinfo=None):
        raise ValueError(f"{wall_clock:%Y-%m-%d %H:%M} does not exist in {zone_name}: the "
                         "clocks jump forward then; pick a time an hour later")
    return local.isoformat(timespec="seconds")


def from_utc(moment: datetime, zone_name: str) -> datetime:
    """A stored (naive UTC) time as the wall clock of `zone_name`, naive."""
    return moment.replace(tzinfo=UTC).astimezone(zone(zone_name)).replace(tzinfo=None)
