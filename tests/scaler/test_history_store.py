"""The live forecast's memory in a real Redis: it survives a scaler restart, a change of
leader and a restart of Redis itself; a previous season is imported once."""

from __future__ import annotations

import pytest
import redis

from scaler.history_store import RedisRateStore
from scaler.live_policy import peakshop_policy
from scaler.model import Observation
from scaler.settings import build_settings
from tests.scaler.live_fixtures import wait_until

DAY_S = 86400


def loaded(url: str) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return client.info("persistence")["loading"] == 0
    except redis.BusyLoadingError:
        return False
    finally:
        client.close()


def reading(at_s: float, rate: float) -> Observation:
    return Observation(at_s=at_s, request_rate=rate, latency_p95_s=0.05,
                       latency_within_slo=True, cpu_utilization=0.3, queue_backlog=0,
                       queue_oldest_age_s=0.0, orders_rate=rate / 40, web_ready=4,
                       web_requested=4, workers_ready=2, workers_requested=2, age_s=15.0)


def daily_rate(second_of_day: float) -> float:
    """A day that peaks in the evening: 40 rps at night, 400 rps at 20:00."""
    hour = second_of_day / 3600
    return 40.0 + 360.0 * max(0.0, 1 - abs(hour - 20) / 6)


@pytest.fixture
def settings(redis_client, redis_server, tmp_path):
    return build_settings({"target": "kubernetes", "namespace": "shop",
                           "redis_url": redis_server.url, "season_start": "2024-10-01"},
                          environ={})


def live_two_days(policy, origin_s: float) -> None:
    """Two days of live readings, one per minute, decided on as the controller does."""
    state = policy.initial_state(4, 2)
    for minute in range(2 * 24 * 60):
        at = origin_s + minute * 60 + 20
        _, state = policy.decide(reading(at, daily_rate((at - origin_s) % DAY_S)), state)


def forecast(policy, season_s: float):
    return policy.policy.forecaster.outlook(season_s, ahead_s=105.0)


def test_the_forecast_survives_a_restart_and_a_new_leader(settings, redis_server):
    first = peakshop_policy(settings)
    live_two_days(first, settings.season_origin_s)
    evening = DAY_S + 19.5 * 3600   # the second evening, read against the first
    learnt = forecast(first, evening)
    assert learnt.rate == pytest.approx(daily_rate(19.5 * 3600 + 105 + 300), rel=0.2)

    # The scaler restarts (a new process): it starts from what Redis holds.
    restarted = peakshop_policy(settings)
    restarted.initial_state(4, 2)
    assert forecast(restarted, evening) == learnt

    # Redis itself restarts (append-only file, as production runs it): still there.
    redis_server.stop()
    redis_server.restart()
    wait_until(lambda: loaded(redis_server.url), what="Redis to load its append-only file")
    standby = peakshop_policy(settings)
    standby.initial_state(4, 2)     # a standby taking over the Lease starts like this
    assert forecast(standby, evening) == learnt
    assert standby.history.request_rate(20 * 60) == pytest.approx(first.history.request_rate(
        20 * 60))


def test_without_the_store_a_restart_forgets(settings):
    """The control case: a scaler without Redis learns nothing from its predecessor."""
    from dataclasses import replace

    alone = replace(settings, redis_url=None)
    first = peakshop_policy(alone)
    live_two_days(first, alone.season_origin_s)
    restarted = peakshop_policy(alone)
    restarted.initial_state(4, 2)
    assert forecast(restarted, DAY_S + 19.5 * 3600).rate is None


def test_a_previous_season_is_imported_once(settings, redis_client, tmp_path):
    previous = tmp_path / "season-2023.csv"
    previous.write_text("minute,rps,orders_per_s\n0,10.0,0.2\n1,12.0,0.3\n")
    with_history = build_settings({"target": "kubernetes", "namespace": "shop",
                                   "redis_url": settings.redis_url,
                                   "season_start": "2024-10-01", "history": str(previous)},
                                  environ={})
    for _ in range(2):   # two starts with the same file
        policy = peakshop_policy(with_history)
    assert policy.history.request_rate(1) == 12.0
    store = RedisRateStore(redis_client, with_history.season_origin_s)
    assert redis_client.hget(store._hash("request_count"), 1) == b"1"
