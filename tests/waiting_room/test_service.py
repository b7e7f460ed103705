"""The shared line in a real Redis: FIFO, places kept, the rate, auto open/close, outages."""

import time

import pytest
import redis

from shop.waiting_room.decision import climbing_eta_s
from shop.waiting_room.service import Line, Outcome, RoomSettings, room_key
from tests.support.servers import RedisServer

SLOW = RoomSettings(default_admit_per_s=0.001, burst_s=1.0, calm_s=10.0, min_admit_per_s=0.001)


@pytest.fixture
def line(redis_client):
    return Line(redis_client, SLOW)


def test_without_a_room_nobody_waits_and_nothing_is_written(line, redis_client):
    assert line.admit("acme", None, overloaded=True).outcome is Outcome.NO_ROOM
    assert redis_client.exists(room_key("acme")) == 0   # a stranger's slug creates no key


def test_the_line_is_first_come_first_served_and_a_place_is_kept(line):
    line.set_mode("acme", "Acme", "on", None)
    places = [line.admit("acme", None, overloaded=False) for _ in range(3)]
    assert [place.outcome for place in places] == [Outcome.WAIT] * 3
    assert [place.number for place in places] == [1, 2, 3]
    assert [place.position for place in places] == [1, 2, 3]
    assert places[0].shop_name == "Acme"
    # Coming back with a number keeps it: the position does not grow.
    again = line.admit("acme", places[1].number, overloaded=False)
    assert (again.number, again.position) == (2, 2)
    # Nobody can claim a number not yet issued: they get the next one.
    assert line.admit("acme", 999, overloaded=False).number == 4
    assert line.status("acme").line_length == 4


def test_the_eta_is_the_position_over_the_rate(line):
    line.set_mode("acme", "Acme", "on", 2.0)
    waits = [line.admit("acme", None, overloaded=False) for _ in range(10)]
    last = waits[-1]
    assert last.outcome is Outcome.WAIT
    assert last.eta_s == pytest.approx(last.position / 2.0)


def test_a_fast_room_lets_the_first_numbers_in_order(line):
    line.set_mode("acme", "Acme", "on", 100_000.0)
    first = line.admit("acme", None, overloaded=False)
    # The first visitor may wait for the first token; it is then let in before anyone new.
    while first.outcome is Outcome.WAIT:
        first = line.admit("acme", first.number, overloaded=False)
    assert first.outcome is Outcome.ADMIT and first.number == 1


def test_switching_off_empties_the_room_for_everyone(line):
    line.set_mode("acme", "Acme", "on", None)
    waiting = line.admit("acme", None, overloaded=False)
    assert waiting.outcome is Outcome.WAIT
    status = line.set_mode("acme", "Acme", "off", None)
    assert (status.mode, status.open, status.line_length) == ("off", False, 0)
    assert line.admit("acme", waiting.number, overloaded=False).outcome is Outcome.NO_ROOM


def test_auto_opens_on_overload_and_lets_in_while_calm(redis_client):
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001))
    line.set_mode("acme", "Acme", "auto", None)
    calm = [line.admit("acme", None, overloaded=False) for _ in range(5)]
    assert {admission.outcome for admission in calm} == {Outcome.ADMIT}
    assert not line.status("acme").open
    hot = line.admit("acme", None, overloaded=True)
    status = line.status("acme")
    assert status.open and status.admitting_per_s is not None
    # Just opened with the intake measured while closed (none yet: the floor), so the next
    # visitor waits behind this one.
    following = line.admit("acme", None, overloaded=True)
    assert following.outcome is Outcome.WAIT and following.number == hot.number + 1


def test_auto_closes_once_calm_and_the_line_is_empty(redis_client):
    line = Line(redis_client, RoomSettings(calm_s=0.0, min_admit_per_s=1000.0, burst_s=5.0))
    line.set_mode("acme", "Acme", "auto", None)
    line.admit("acme", None, overloaded=True)
    assert line.status("acme").open
    # No overload reported and nobody left in line: the room closes on the next decision.
    for _ in range(3):
        time.sleep(0.05)   # at 1000/s the line moves by 50 numbers meanwhile
        line.admit("acme", None, overloaded=False)
    assert not line.status("acme").open


def test_with_redis_down_the_room_fails_open_and_recovers():
    """A real redis-server, stopped: visitors are let in, none waits for a timeout."""
    server = RedisServer.start()
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
        line = Line(client, SLOW)
        line.set_mode("acme", "Acme", "on", None)
        assert line.admit("acme", None, overloaded=False).outcome is Outcome.WAIT
        server.stop()
        assert line.admit("acme", None, overloaded=False).outcome is Outcome.NO_ROOM
        # The breaker: the next decisions do not even try Redis.
        assert line.admit("acme", None, overloaded=False).outcome is Outcome.NO_ROOM
        server.restart()
        fresh = Line(client, SLOW)   # a new process, or the same one after the breaker
        assert fresh.admit("acme", None, overloaded=False).outcome is Outcome.WAIT
    finally:
        server.stop()


@pytest.mark.parametrize(("share", "floor_above_minimum"), [(0.5, True), (0.0, False)])
def test_the_rate_floor_is_a_share_of_the_intake_measured_before_opening(
        redis_client, share, floor_above_minimum):
    """In gunicorn the floor is half the intake; the edge gate (share 0) has none."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001,
                                           intake_floor_share=share))
    line.set_mode("acme", "Acme", "auto", None)
    for _ in range(40):
        line.admit("acme", None, overloaded=False)
    time.sleep(1.05)   # the intake is measured once a second
    line.admit("acme", None, overloaded=False)
    line.admit("acme", None, overloaded=True)
    floor = float(redis_client.hget(room_key("acme"), "floor"))
    assert (floor > 0.5) is floor_above_minimum, floor


def test_an_overloaded_process_cuts_the_rate_by_the_deepest_cut_asked_within_a_second(
        redis_client):
    """The rate is tuned once a second: by the deepest cut any process asked for in it (the
    gate asks in proportion to its queue), gently by default, and not at all on a hold."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001,
                                           intake_floor_share=0.0))
    line.set_mode("acme", "Acme", "auto", None)
    line.admit("acme", None, overloaded=True)                 # opens the room
    redis_client.hset(room_key("acme"), "rate", "40")

    def next_second(*cuts: float | None) -> float:
        for cut in cuts[:-1]:
            line.admit("acme", None, overloaded=True, rate_cut=cut)
        time.sleep(1.05)
        line.admit("acme", None, overloaded=True, rate_cut=cuts[-1])   # tunes the rate
        return line.status("acme").admitting_per_s

    assert next_second(0.5, 1.0) == pytest.approx(20.0)      # the deepest of the second
    assert next_second(None) == pytest.approx(18.0)         # the default: 10%
    assert next_second(1.0) == pytest.approx(18.0)          # hold: the queue is draining


def test_an_overload_that_has_not_lasted_does_not_open_the_room(redis_client):
    """The gate says whether its overload lasted (`decision.overload_has_lasted`): until it
    has, visitors are let in and the room stays closed."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001))
    line.set_mode("acme", "Acme", "auto", None)
    early = [line.admit("acme", None, overloaded=True, may_open=False) for _ in range(3)]
    assert {admission.outcome for admission in early} == {Outcome.ADMIT}
    assert not line.status("acme").open
    line.admit("acme", None, overloaded=True, may_open=True)
    assert line.status("acme").open


def _calm_second(redis_client, line, served_in_2_s: int, *rises: float | None) -> float:
    """An open room admitting 10/s, last tuned 2 s ago with `served_in_2_s` visitors let in
    since, no overload for 5 s; calm processes ask `rises`, the last call tunes the rate."""
    def now() -> float:
        seconds, micros = redis_client.time()
        return seconds + micros / 1e6

    redis_client.hset(room_key("acme"), mapping={
        "rate": "10", "tuned_at": repr(now() - 0.5), "hot_at": repr(now() - 5.0),
        "rise": "", "cut": ""})
    for rise in rises[:-1]:   # within the second: asked, not yet applied
        line.admit("acme", None, overloaded=False, rate_rise=rise)
    assert float(redis_client.hget(room_key("acme"), "rate")) == 10.0
    redis_client.hset(room_key("acme"), mapping={"tuned_at": repr(now() - 2.0),
                                                 "tuned_n": served_in_2_s})
    line.admit("acme", None, overloaded=False, rate_rise=rises[-1])
    return float(redis_client.hget(room_key("acme"), "rate"))


@pytest.mark.parametrize(("served_in_2_s", "rises", "rate"), [
    (80, (1.5,), 15.0),        # 40/s let in: the rise asked, 10 -> 15
    (20, (1.5,), 12.5),        # 10/s let in: never past that plus 25%
    (0, (1.5,), 10.0),         # nobody came in: held, turns would only pile up
    (15, (1.5,), 10.0),        # 7.5/s let in, under 80% of the rate: held
    (80, (None,), 10.5),       # a web process asks nothing: 5% (at least 0.5/s), as before
    (80, (1.5, 1.1, 1.3), 11.0),  # several processes: the smallest rise asked in the second
])
def test_a_calm_second_raises_the_rate_by_the_rise_asked_within_what_was_served(
        redis_client, served_in_2_s, rises, rate):
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001,
                                           intake_floor_share=0.0))
    line.set_mode("acme", "Acme", "auto", None)
    line.admit("acme", None, overloaded=True)   # opens the room
    assert _calm_second(redis_client, line, served_in_2_s, *rises) == pytest.approx(rate, rel=1e-3)


def test_while_the_rate_climbs_the_eta_counts_on_the_climb(redis_client):
    """Calm, the rate rose by 20% at its last tuning: a visitor far back is told the wait
    at the climbing rate, shorter than at the rate of the moment; a hot second (a cut)
    tells the plain one again."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001,
                                           intake_floor_share=0.0))
    line.set_mode("acme", "Acme", "auto", None)
    line.admit("acme", None, overloaded=True)   # opens the room
    rate = _calm_second(redis_client, line, 80, 1.2)   # 10 -> 12, a climb of 1.2
    assert rate == pytest.approx(12.0, rel=1e-3)
    for _ in range(100):
        waiting = line.admit("acme", None, overloaded=False, rate_rise=1.2)
    assert waiting.outcome is Outcome.WAIT
    steady = waiting.position / rate
    assert waiting.eta_s < 0.7 * steady
    assert waiting.eta_s == pytest.approx(climbing_eta_s(waiting.position, rate, 1.2),
                                          rel=0.05)
    hot = line.admit("acme", waiting.number, overloaded=True)
    assert hot.eta_s == pytest.approx(hot.position / rate, rel=0.05)


def test_turns_claimed_together_are_let_in_at_the_rate(redis_client):
    """Twenty visitors whose turn passed while they waited for their next refresh come back
    at once: the room lets them in at its rate (one burst, then the refill), and tells the
    others they are next instead of letting the wave through to the server."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001, burst_s=1.0))
    line.set_mode("acme", "Acme", "on", 5.0)
    places = [line.admit("acme", None, overloaded=False) for _ in range(30)]
    numbers = [place.number for place in places if place.outcome is Outcome.WAIT][:20]
    seconds, micros = redis_client.time()
    redis_client.hset(room_key("acme"), mapping={   # the line moved on meanwhile, unclaimed
        "serving": "40", "moved_at": repr(seconds + micros / 1e6),
        "tokens": "0", "tokens_at": repr(seconds + micros / 1e6)})
    started = time.monotonic()
    wave = [line.admit("acme", number, overloaded=False) for number in numbers]
    elapsed = time.monotonic() - started
    let_in = [admission for admission in wave if admission.outcome is Outcome.ADMIT]
    assert len(let_in) <= 5.0 * elapsed + 1
    assert all(admission.position == 1 for admission in wave if admission not in let_in)
    time.sleep(1.0)
    refill_started = time.monotonic()
    later = [line.admit("acme", admission.number, overloaded=False)
             for admission in wave if admission not in let_in]
    refill_elapsed = time.monotonic() - refill_started
    let_in_later = [admission for admission in later if admission.outcome is Outcome.ADMIT]
    # A full bucket holds one second's visitors, whatever the time slept.
    assert 1 <= len(let_in_later) <= 5 + 5.0 * refill_elapsed + 1
    assert [admission.number for admission in let_in_later] == sorted(
        admission.number for admission in let_in_later)


def test_turns_nobody_claims_move_the_line_on_faster(redis_client):
    """Nobody in line asks for three seconds (all between two refreshes): the line moves on
    at its rate and by the turns the bucket could not hold, twice the rate in all, so the
    visitors who do ask next are let in instead of the shop idling behind sleeping turns."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001, burst_s=1.0))
    line.set_mode("acme", "Acme", "on", 5.0)
    started = time.monotonic()
    first = line.admit("acme", None, overloaded=False)   # switches the line on: one burst
    for _ in range(99):
        line.admit("acme", None, overloaded=False)
    time.sleep(3.0)
    line.admit("acme", first.number, overloaded=False)
    elapsed = time.monotonic() - started
    serving = float(redis_client.hget(room_key("acme"), "serving"))
    # At the rate alone the line would be at 5 + 5 x elapsed (about 20); the first five
    # took the bucket, which then refilled in a second and overflowed for the other two
    # (about 30).
    assert serving >= 5 + 5.0 * elapsed + 5, (serving, elapsed)
    assert serving <= 5 + 2 * 5.0 * elapsed + 1, (serving, elapsed)


def test_after_a_round_of_cuts_the_rate_climbs_steeply_only_to_half_where_it_began(
        redis_client):
    """The load follows the rate seconds late, so a round of cuts halves the rate until the
    queue drains, well below what the shop serves. The climb back takes the rise asked up to
    half the rate the round began at, then 5% a second: not 25% a second straight back into
    the rate that overloaded. A new round of cuts begins from the rate of the moment."""
    line = Line(redis_client, RoomSettings(calm_s=3600.0, min_admit_per_s=0.001,
                                           intake_floor_share=0.0))
    line.set_mode("acme", "Acme", "auto", None)
    line.admit("acme", None, overloaded=True)   # opens the room
    key = room_key("acme")

    def now() -> float:
        seconds, micros = redis_client.time()
        return seconds + micros / 1e6

    def hot_second(cut: float) -> float:
        redis_client.hset(key, mapping={"tuned_at": repr(now() - 1.1), "cut": ""})
        line.admit("acme", None, overloaded=True, rate_cut=cut)
        return float(redis_client.hget(key, "rate"))

    def calm_second(rise: float) -> float:
        rate = float(redis_client.hget(key, "rate"))
        redis_client.hset(key, mapping={"tuned_at": repr(now() - 1.0), "hot_at": repr(now() - 5),
                                        "tuned_n": int(rate * 2), "rise": ""})
        line.admit("acme", None, overloaded=False, rate_rise=rise)
        return float(redis_client.hget(key, "rate"))

    redis_client.hset(key, "rate", "80")
    assert [hot_second(0.5) for _ in range(3)] == pytest.approx([40, 20, 10])
    climb = [calm_second(1.5) for _ in range(5)]
    assert climb == pytest.approx([15, 22.5, 33.75, 40, 42], rel=1e-3)
    assert hot_second(0.9) == pytest.approx(37.8, rel=1e-3)   # a new round, from 42
    assert calm_second(1.5) == pytest.approx(39.69, rel=1e-3)  # over half of 42: gently
