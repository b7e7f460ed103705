"""Forecasts from the past only: per-minute history, seasonal references, evening peaks."""

from __future__ import annotations

import pytest

from scaler.events import Event, EventSchedule
from scaler.forecast import Forecaster
from scaler.model import Observation
from scaler.rate_history import (
    DAY_MIN,
    WEEK_MIN,
    HistoryFileError,
    RateHistory,
    load_rate_history,
    weekday_shift_days,
)


def observation(at_s: float, rate: float | None, orders: float | None = None,
                age_s: float = 15.0) -> Observation:
    return Observation(at_s=at_s, request_rate=rate, latency_p95_s=None, latency_within_slo=True,
                       cpu_utilization=0.5, queue_backlog=0, queue_oldest_age_s=0.0,
                       orders_rate=orders, web_ready=2, web_requested=2, workers_ready=2,
                       workers_requested=2, age_s=age_s)


def filled(rate_of_minute, minutes: int) -> RateHistory:
    history = RateHistory()
    for minute in range(minutes):
        history.add(minute, rate_of_minute(minute), None)
    return history


def test_history_files_readings_under_the_minute_they_describe():
    history = RateHistory(origin_s=1000.0)
    history.record(observation(1000.0 + 75.0, 10.0, 1.0))    # measured at 60 s: minute 1
    history.record(observation(1000.0 + 110.0, 20.0, None))  # measured at 95 s: minute 1
    history.record(observation(1000.0 + 10.0, 99.0))         # measured before the origin
    assert history.request_rate(1) == pytest.approx(15.0)
    assert history.order_rate(1) == pytest.approx(1.0)
    assert history.request_rate(0) is None
    assert history.request_rates(-1, 3) == [None, None, 15.0, None]


def test_history_round_trips_through_a_file(tmp_path):
    history = RateHistory()
    history.add(0, 10.0, 0.2)
    history.add(2, 30.0, None)
    history.save(tmp_path / "history.csv")
    loaded = load_rate_history(tmp_path / "history.csv")
    assert loaded.request_rates(0, 3) == [10.0, None, 30.0]
    assert loaded.order_rate(0) == pytest.approx(0.2)
    assert loaded.order_rate(2) is None


@pytest.mark.parametrize(("text", "message"), [
    ("second,rps\n0,1\n", "needs the header 'minute,rps"),
    ("minute,rps\n0,abc\n", "line 2: expected"),
    ("minute,rps\n-1,3\n", "line 2: minute must be from 0 to"),
    # minute by minute in memory: a far-future minute would exhaust it
    ("minute,rps\n2000000000,1\n", "line 2: minute must be from 0 to"),
    ("minute,rps,orders_per_s\n0,3,nan\n", "line 2: rates must be from 0 to"),
    ("minute,rps,orders_per_s\n0,3,-5\n", "line 2: rates must be from 0 to"),
    ("minute,rps\n0,1e308\n", "line 2: rates must be from 0 to"),
])
def test_bad_history_files_are_named(tmp_path, text, message):
    path = tmp_path / "history.csv"
    path.write_text(text)
    with pytest.raises(HistoryFileError, match=message):
        load_rate_history(path)


@pytest.mark.parametrize(("season", "previous", "shift"), [
    (1, 6, 2),    # 2024 starts on a Tuesday, 2023 on a Sunday: two days later last season
    (6, 1, -2),
    (3, 3, 0),
    (0, 3, -3),
    (4, 0, -3),   # a four-day gap is shorter the other way round
])
def test_weekday_shift_stays_within_three_days(season, previous, shift):
    assert weekday_shift_days(season, previous) == shift


def test_expected_rate_takes_the_lower_reference_scaled_by_the_trend():
    # Yesterday and last week both rise to 100 at minute 600 of the day; last week ran at half
    # of today's level, yesterday at today's level, and yesterday had a one-off spike.
    def rate(minute: int) -> float:
        day, of_day = divmod(minute, DAY_MIN)
        level = 0.5 if day < 7 else 1.0
        if day == 7 and of_day == 602:
            return 1000.0
        return level * (100.0 if of_day >= 600 else 50.0)

    now = 8 * DAY_MIN + 595
    history = filled(rate, now)
    forecaster = Forecaster(history)
    # Over minutes 600..605 of the day, last week's level scaled by 2 is 100; yesterday's
    # level with its spike is 280 (a 5-minute mean): the lower one stands.
    assert forecaster.expected_rate(now, now + 5, now + 10) == pytest.approx(100.0)
    assert forecaster.expected_rate(now, now + 2) == pytest.approx(50.0)  # before the rise


def test_expected_rate_never_reads_the_future():
    now = 8 * DAY_MIN
    history = filled(lambda minute: 40.0, now)
    before = Forecaster(history).expected_rate(now, now + 2)
    for minute in range(now, now + 2 * DAY_MIN):
        history.add(minute, 5000.0, None)
    assert Forecaster(history).expected_rate(now, now + 2) == pytest.approx(before)


def test_the_trend_is_taken_at_the_start_of_each_refresh_interval():
    # Today doubles yesterday's level from minute 31 on.
    history = filled(lambda minute: 100.0 if minute < DAY_MIN + 31 else 200.0, DAY_MIN + 80)
    # Taken at minute 60 (29 doubled minutes of 60): the median ratio is still 1 ...
    assert Forecaster(history).trend(DAY_MIN + 60, history, -DAY_MIN) == pytest.approx(1.0)
    # ... and it stays so until minute 74, though the last hour is by then mostly doubled;
    assert Forecaster(history).trend(DAY_MIN + 74, history, -DAY_MIN) == pytest.approx(1.0)
    # at minute 75 the next one is taken.
    assert Forecaster(history).trend(DAY_MIN + 75, history, -DAY_MIN) == pytest.approx(2.0)


def test_expected_rate_needs_history():
    assert Forecaster(RateHistory()).expected_rate(100, 102) is None


def test_previous_season_is_aligned_by_weekday_and_scaled_to_this_season():
    previous = filled(lambda minute: 300.0 if minute % DAY_MIN >= 600 else 100.0, 3 * DAY_MIN)
    history = filled(lambda minute: 50.0, 70)      # one hour and ten minutes of this season
    forecaster = Forecaster(history, previous=previous, previous_shift_days=1)
    # Today runs at half of last season's level, so last season's rise is expected at half.
    assert forecaster.expected_rate(70, 600, 605) == pytest.approx(150.0)


def test_evening_peak_is_the_median_of_recent_evenings_without_known_events():
    def rate(minute: int) -> float:
        day, of_day = divmod(minute, DAY_MIN)
        if day in (1, 2) and 19 * 60 <= of_day < 19 * 60 + 30:
            return 900.0                                    # announced launches
        return 100.0 + 10 * day if 18 * 60 <= of_day < 22 * 60 else 40.0

    now = 3 * DAY_MIN + 60
    history = filled(rate, now)
    launches = [Event(float((day * DAY_MIN + 19 * 60) * 60), "launch", 3.0, 1800.0)
                for day in (1, 2)]
    forecaster = Forecaster(history, events=EventSchedule(launches))
    # Evenings peak at 100, 110, 120; the launches are left out; the trend today is 1.
    assert forecaster.evening_peak(now) == pytest.approx(110.0)
    unaware = Forecaster(history)
    assert unaware.evening_peak(now) == pytest.approx(900.0)  # median of 100, 900, 900


def test_outlook_covers_the_horizon_and_the_refresh_interval():
    history = filled(lambda minute: 200.0 if minute % DAY_MIN == 70 else 20.0, DAY_MIN + 63)
    outlook = Forecaster(history).outlook(season_s=(DAY_MIN + 63) * 60.0, ahead_s=105.0)
    assert outlook.minute == DAY_MIN + 63
    assert outlook.until_minute == DAY_MIN + 68
    # yesterday's minute 70 is within reach: its 5-minute level is (4 * 20 + 200) / 5
    assert outlook.rate == pytest.approx(56.0)
    assert WEEK_MIN == 7 * DAY_MIN


def e_mail_blasts(minute: int) -> float:
    """60 rps, and a crowd of 1.5x every day from 9:00 to 9:20."""
    return 90.0 if 540 <= minute % DAY_MIN < 560 else 60.0


@pytest.mark.parametrize(("target_min", "rise"), [
    (DAY_MIN + 537, 1.5),     # 9:00 is within reach (+-2 minutes): yesterday rose by 1.5x there
    (DAY_MIN + 541, 1.5),
    (DAY_MIN + 545, 1.0),     # in the crowd it merely stays
    (DAY_MIN + 600, 1.0),     # yesterday was calm around 10:00
])
def test_highest_rise_is_the_largest_one_minute_rise_seen_around_the_coming_minutes(
        target_min, rise):
    history = filled(e_mail_blasts, DAY_MIN + 530)
    assert Forecaster(history).highest_rise(DAY_MIN + 530, target_min, target_min + 1) == \
        pytest.approx(rise)


def test_highest_rise_takes_the_largest_reference_and_never_the_future():
    # Only last week had the blast; yesterday (and today, beyond now) stayed calm.
    def rate(minute: int) -> float:
        return e_mail_blasts(minute) if minute < DAY_MIN else 60.0

    now = 7 * DAY_MIN + 530
    history = filled(rate, now)
    assert Forecaster(history).highest_rise(now, now + 8, now + 12) == pytest.approx(1.5)
    for minute in range(now, now + 60):      # what happens after now is not looked at
        history.add(minute, 600.0, None)
    assert Forecaster(history).highest_rise(now, now + 8, now + 12) == pytest.approx(1.5)
    assert Forecaster(RateHistory()).highest_rise(100, 102, 104) is None


@pytest.mark.parametrize(("blast_days_ago", "rise"), [(3, 1.5), (7, 1.5), (8, 1.0)])
def test_highest_rise_looks_at_each_day_of_the_last_week(blast_days_ago, rise):
    now = 10 * DAY_MIN + 530
    blast_day = now // DAY_MIN - blast_days_ago
    history = filled(lambda minute: e_mail_blasts(minute) if minute // DAY_MIN == blast_day
                     else 60.0, now)
    assert Forecaster(history).highest_rise(now, now + 8, now + 12) == pytest.approx(rise)


def test_a_rise_an_announced_event_explains_is_no_surprise():
    history = filled(e_mail_blasts, DAY_MIN + 530)
    yesterday_blast = EventSchedule([Event(540 * 60.0, "newsletter", 0.5, 1200.0)])
    announced = Forecaster(history, events=yesterday_blast)
    assert announced.highest_rise(DAY_MIN + 530, DAY_MIN + 540) is None   # nothing unexplained
    # the outlook reaches back before the event's guard: calm minutes, no rise
    assert announced.outlook(season_s=(DAY_MIN + 535) * 60.0, ahead_s=105.0).rise == \
        pytest.approx(1.0)
    assert Forecaster(history).outlook((DAY_MIN + 535) * 60.0, 105.0).rise == pytest.approx(1.5)
