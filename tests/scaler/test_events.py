"""Announced events: parsing, the extra load at a moment, appending to a file."""

from __future__ import annotations

import pytest

from scaler.events import (
    Event,
    EventSchedule,
    EventsFileError,
    add_event,
    load_events,
    parse_events,
)

MINUTES = "minute,name,extra_peaks,duration_min\n5400,email-blast,0.60,45\n6900,launch,2.52,135\n"
SECONDS = "second,name,extra_peaks,duration_s\n120,collection-launch,7.0,450\n"


@pytest.mark.parametrize(("text", "expected"), [
    (MINUTES, [Event(324000.0, "email-blast", 0.6, 2700.0),
               Event(414000.0, "launch", 2.52, 8100.0)]),
    (SECONDS, [Event(120.0, "collection-launch", 7.0, 450.0)]),
    ("second,name,extra_peaks,duration_s\n300,b,1,60\n100,a,2,60\n\n",
     [Event(100.0, "a", 2.0, 60.0), Event(300.0, "b", 1.0, 60.0)]),
])
def test_parse_events_in_minutes_or_seconds(text, expected):
    assert list(parse_events(text).events) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("minute,rps\n0,1\n", "is not an events header"),
    ("minute,name,extra_peaks,duration_min\n10,a,x,5\n",
     "line 2: minute, extra_peaks and duration_min must be numbers"),
    ("minute,name,extra_peaks,duration_min\n10,a,1\n", "line 2: expected 4 values, got 3"),
    ("minute,name,extra_peaks,duration_min\n10,a,-1,5\n", "extra_peaks must be from 0 to 1000"),
    ("minute,name,extra_peaks,duration_min\n10,a,1e308,5\n", "extra_peaks must be from 0 to"),
    ("minute,name,extra_peaks,duration_min\n10,a,1,0\n", "the duration must be > 0"),
    ("minute,name,extra_peaks,duration_min\n-3,a,1,5\n", "the start must be a finite time >= 0"),
    ("minute,name,extra_peaks,duration_min\n3,,1,5\n", "the event needs a name"),
    # Finite but absurd: the forecast walks every minute of an event.
    ("second,name,extra_peaks,duration_s\n120,launch,7,1e308\n", "lasts at most two weeks"),
    ("minute,name,extra_peaks,duration_min\n1e308,launch,7,1e308\n", "within a year"),
    ("minute,name,extra_peaks,duration_min\n10,a,1,20161\n", "lasts at most two weeks"),
])
def test_bad_events_files_get_one_line_naming_the_problem(text, message):
    with pytest.raises(EventsFileError) as raised:
        parse_events(text, "events.csv")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_events_file_saved_by_a_spreadsheet_reads(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte order mark and ends lines with CRLF."""
    path = tmp_path / "events.csv"
    path.write_bytes("\ufeffminute,name,extra_peaks,duration_min\r\n10,launch,2,30\r\n"
                     .encode())
    assert list(load_events(path).events) == [Event(600.0, "launch", 2.0, 1800.0)]


@pytest.mark.parametrize("content", [b"\x00" * 4096, b"\xff\xfe not utf-8"])
def test_an_events_file_that_is_not_text_is_one_line(tmp_path, content):
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    with pytest.raises(EventsFileError) as raised:
        load_events(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_missing_events_file_names_the_path(tmp_path):
    with pytest.raises(EventsFileError, match="events file not found: .*nope.csv"):
        load_events(tmp_path / "nope.csv")


@pytest.mark.parametrize(("at_s", "expected"), [
    (99.0, 0.0),        # before the first event
    (100.0, 2.0),       # the start counts
    (150.0, 3.0),       # two events overlap: their crowds add up
    (160.0, 1.0),       # the first one ended at 160
    (260.0, 0.0),       # the end does not count
])
def test_overlapping_crowds_add_up(at_s, expected):
    """Extra peaks and absolute requests/s of overlapping events are summed alike."""
    events = [Event(100.0, "a", 2.0, 60.0, extra_rps=200.0),
              Event(140.0, "b", 1.0, 120.0, extra_rps=100.0)]
    timeline = EventSchedule(events).crowd_timeline(lead_s=0.0, hold_s=1e9)
    assert timeline.at(at_s) == pytest.approx(expected)
    assert timeline.rps_at(at_s) == pytest.approx(100.0 * expected)


def test_schedule_finds_events_by_start_and_by_overlap():
    schedule = EventSchedule([Event(500.0, "late", 1.0, 10.0), Event(100.0, "early", 2.0, 300.0)])
    assert [event.name for event in schedule.starting_between(0, 100)] == ["early"]
    assert [event.name for event in schedule.starting_between(101, 499)] == []
    assert [event.name for event in schedule.overlapping(300, 505)] == ["early", "late"]
    assert [event.name for event in schedule.overlapping(400, 500)] == []


def test_add_event_creates_a_seconds_file_and_appends(tmp_path):
    path = tmp_path / "events.csv"
    add_event(path, 120, "launch", 7.0, 450)
    add_event(path, 900, "blast", 0.6, 60)
    assert path.read_text() == ("second,name,extra_peaks,duration_s\n"
                                "120,launch,7,450\n900,blast,0.6,60\n")
    assert [event.name for event in load_events(path).events] == ["launch", "blast"]


def test_add_event_keeps_a_minute_file_in_minutes(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(MINUTES.rstrip("\n"))  # no final newline: the row must still go on its own line
    event = add_event(path, 7200 * 60, "opening", 3.0, 120 * 60)
    assert event == Event(432000.0, "opening", 3.0, 7200.0)
    assert path.read_text().splitlines()[-1] == "7200,opening,3,120"
    assert len(load_events(path)) == 3


@pytest.mark.parametrize(("start_s", "name", "extra", "duration_s", "message"), [
    (90, "x", 1.0, 60, "counts in minutes"),
    (60, "x", 1.0, 90, "counts in minutes"),
    (60, "a,b", 1.0, 60, "may not contain commas"),
    (60, "x", -1.0, 60, "extra_peaks must be from 0 to 1000"),
])
def test_add_event_refuses_what_the_file_cannot_hold(tmp_path, start_s, name, extra, duration_s,
                                                     message):
    path = tmp_path / "events.csv"
    path.write_text(MINUTES)
    with pytest.raises(EventsFileError, match=message):
        add_event(path, start_s, name, extra, duration_s)
    assert path.read_text() == MINUTES


def test_add_event_never_appends_to_a_broken_file(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("minute,rps\n0,1\n")
    with pytest.raises(EventsFileError, match="not an events header"):
        add_event(path, 60, "x", 1.0, 60)


@pytest.mark.parametrize(("at_s", "expected"), [
    (899.0, 0.0), (900.0, 2.0), (999.0, 2.0), (1000.0, 3.0), (1159.0, 3.0), (1160.0, 2.0),
    (1299.0, 2.0), (1300.0, 0.0), (5000.0, 0.0),
])
def test_crowd_timeline_holds_each_event_from_lead_to_hold(at_s, expected):
    schedule = EventSchedule([Event(1000.0, "launch", 2.0, 600.0),
                              Event(1100.0, "blast", 1.0, 60.0)])
    # launch: ready from 900 (100 s lead) until 1300 (300 s hold); blast: 1000 until its end
    assert schedule.crowd_timeline(lead_s=100.0, hold_s=300.0).at(at_s) == expected
