"""Wall-clock times in a zone or at an offset, as RFC 3339: a table, no I/O."""

from __future__ import annotations

from datetime import datetime

import pytest

from shop.events import local_time


@pytest.mark.parametrize(("wall_clock", "zone", "expected"), [
    (datetime(2026, 12, 20, 18, 0), "Europe/Berlin", "2026-12-20T18:00:00+01:00"),
    (datetime(2026, 7, 20, 18, 0), "Europe/Berlin", "2026-07-20T18:00:00+02:00"),
    (datetime(2026, 11, 27, 0, 0), "America/New_York", "2026-11-27T00:00:00-05:00"),
    (datetime(2026, 12, 20, 18, 0), "UTC", "2026-12-20T18:00:00+00:00"),
    (datetime(2026, 12, 20, 18, 0), "UTC+05:30", "2026-12-20T18:00:00+05:30"),
    (datetime(2026, 12, 20, 18, 0), "UTC-09:30", "2026-12-20T18:00:00-09:30"),
    # Twice that night when the clocks fall back: the first (summer time) is meant.
    (datetime(2026, 10, 25, 2, 30), "Europe/Berlin", "2026-10-25T02:30:00+02:00"),
])
def test_a_wall_clock_time_becomes_rfc3339_with_its_offset(wall_clock, zone, expected):
    assert local_time.to_rfc3339(wall_clock, zone) == expected


def test_a_time_the_clocks_skip_is_refused_rather_than_moved():
    with pytest.raises(ValueError, match="does not exist in Europe/Berlin"):
        local_time.to_rfc3339(datetime(2026, 3, 29, 2, 30), "Europe/Berlin")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC+15:00", "UTC+01:75", "utc", "",
                                  "Europe/../../etc/passwd"])
def test_an_unknown_zone_names_the_fix(zone):
    with pytest.raises(ValueError, match="UTC"):
        local_time.zone(zone)


def test_every_offset_offered_is_one_the_converter_reads():
    for name in local_time.offset_names():
        local_time.zone(name)
    assert local_time.offset_names()[0] == "UTC-12:00"
    assert local_time.offset_names()[-1] == "UTC+14:00"


def test_a_stored_time_reads_back_on_the_zones_clock():
    assert local_time.from_utc(datetime(2026, 12, 20, 17, 0), "Europe/Berlin") == datetime(
        2026, 12, 20, 18, 0)
