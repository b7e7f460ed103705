"""Each shop's line, shared by every web pod through Redis; one Lua script per decision.

The line is a bakery line: a visitor takes the next number (`issued`), and the shop serves
numbers in order (`serving`), which advances at the admission rate. Whoever holds a number
at or below `serving` is let in with a pass, at the rate: turns claimed together draw from a
bucket of one burst, and turns nobody claims move the line on (docs/waiting-room.md, "The
line"). No list of visitors is kept, so the cost of a
decision does not grow with the crowd; a visitor who walks away simply leaves a number that
is served to nobody. Everything one decision reads and writes lives in one hash, changed
atomically by one script: one round trip per visitor without a pass, none with one.

In `auto` mode the room opens when a web process reports that its queue has reached half
the latency SLO, starting at 80% of the intake it measured while closed (visitors let in
per second, smoothed over ~20 s: what the shop was serving well just before). While open,
the rate falls in every second in which a process still reports overload, by the deepest
cut one of them asked for (10% from a web process; the edge gate asks in proportion to its
queue of let-in requests, `decision.admission_rate_cut`), and rises by 5% (at least 0.5/s)
in the others where the visitors come in at it (the gate asks by gunicorn's headroom, up to
25%; after a round of cuts that steep climb stops at half the rate the round began at,
`RoomSettings.settle_share`), so it follows what the capacity of the moment serves
(more web workers, fewer, a slow database); the room closes once no process has reported
overload for `calm_s` and the line is empty. The rate never falls below half the intake
measured before the room opened: that many visitors the shop served well, and overload that
remains beyond it comes from the crowd itself (every arrival and every refresh of the line
is a request), which admitting fewer would not cure but only make the line longer.

Redis down: the room fails open (see docs/waiting-room.md): the decision says "no room",
and for `RETRY_REDIS_AFTER_S` no process asks Redis again, so an outage costs no timeouts.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from dataclasses import dataclass

import redis

from shop.waiting_room.decision import GENTLE_RISE, climbing_eta_s

log = logging.getLogger(__name__)

MODES = ("off", "auto", "on")
KEY_PREFIX = "peakshop:waiting-room:"
RETRY_REDIS_AFTER_S = 2.0
MAX_ADMIT_PER_S = 100_000
MIN_ADMIT_PER_S = 0.01   # one visitor every 100 s: slower is a closed shop, not a line
# A mode of "off" is remembered this long per process: a room switched on takes at most this
# long to apply, and a shop without a room costs no Redis round trip per new visitor.
OFF_CACHE_S = 1.0
OFF_CACHE_MAX_SHOPS = 1000

ADMIT_SCRIPT = """
local key = KEYS[1]
local f = redis.call('HMGET', key, 'mode', 'admit_per_s', 'issued', 'serving', 'moved_at',
  'open', 'rate', 'hot_at', 'tuned_at', 'intake', 'intake_at', 'intake_n', 'name', 'floor',
  'cut', 'rise', 'tuned_n', 'climb', 'tokens', 'tokens_at', 'settle', 'round_from')
local mode = f[1] or 'off'
if mode == 'off' then return {'off'} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
local ticket = tonumber(ARGV[1])
local hot = ARGV[2] == '1'
local default_rate, burst_s = tonumber(ARGV[3]), tonumber(ARGV[4])
local calm_s, min_rate = tonumber(ARGV[5]), tonumber(ARGV[6])
local floor_share = tonumber(ARGV[7]) or 0.5
local asked_cut = tonumber(ARGV[8]) or 0.9
-- behind the gate: open only on an overload that lasted; rise by gunicorn's headroom
local may_open = ARGV[9] ~= '0'
local asked_rise = tonumber(ARGV[10]) or 1.05
local served_margin = tonumber(ARGV[11]) or 1.25
local used_share = tonumber(ARGV[12]) or 0.8
local settle_share = tonumber(ARGV[13]) or 0.5
local gentle_rise = tonumber(ARGV[14]) or 1.05
local issued = tonumber(f[3]) or 0
local serving = tonumber(f[4]) or issued
local moved_at = tonumber(f[5]) or now
local open = f[6] == '1'
local rate = tonumber(f[7]) or default_rate
local hot_at = tonumber(f[8]) or 0
local tuned_at = tonumber(f[9]) or 0
local intake = tonumber(f[10]) or 0
local intake_at = tonumber(f[11]) or now
local intake_n = tonumber(f[12]) or 0
local floor = tonumber(f[14]) or min_rate
-- the deepest cut an overloaded process asked for since the rate was last tuned
local cut = tonumber(f[15])
-- the smallest rise a calm process asked for, and the visitors let in, since then
local rise = tonumber(f[16])
local tuned_n = tonumber(f[17]) or 0
-- by what the last tuning multiplied the rate, when it raised it (for the ETA)
local climb = tonumber(f[18])
-- while open: the visitors the rate still lets in at this moment (a bucket refilled at the
-- rate, at most one burst), so that holders of passed numbers coming back together are let
-- in at the rate, not all at once
local tokens = tonumber(f[19])
local tokens_at = tonumber(f[20]) or now
-- after a round of cuts: the rate above which it rises only gently (the load follows the
-- rate seconds late, so a steep climb past the rate that overloaded overshoots it again),
-- and the rate the round of cuts began at (nil once a calm second has ended the round)
local settle = tonumber(f[21])
local round_from = tonumber(f[22])
if hot then
  hot_at = now
  cut = math.min(cut or asked_cut, asked_cut)
else
  rise = math.min(rise or asked_rise, asked_rise)
end
-- the measured intake: visitors let in per second, smoothed over ~20 s
if now - intake_at >= 1 then
  local seconds = now - intake_at
  intake = intake + (intake_n / seconds - intake) * (1 - math.exp(-seconds / 20))
  intake_at, intake_n = now, 0
end
if mode == 'on' then
  rate = tonumber(f[2]) or default_rate
  -- switched on: an empty line lets the first second's visitors straight in
  if not open then
    serving, moved_at = issued + rate * burst_s, now
    tokens, tokens_at = math.max(1, rate * burst_s), now
  end
  open = true
elseif not open then
  if hot and may_open then
    open = true
    rate = math.max(min_rate, intake * 0.8)
    floor = math.max(min_rate, intake * floor_share)
    serving, moved_at, tuned_at, tuned_n = issued, now, now, 0
    tokens, tokens_at = 0, now
    settle, round_from = nil, nil
  end
else
  if now - tuned_at >= 1 then
    if now - hot_at < 1 then
      round_from = round_from or rate
      rate = math.max(floor, rate * (cut or asked_cut))
      -- the deep cuts of a round drain the queue the overshoot left; the climb back is
      -- steep only up to a share of the rate that overloaded
      settle = math.max(rate, round_from * settle_share)
      climb = nil
    else
      round_from = nil
      local served = tuned_n / math.max(now - tuned_at, 1)
      if served < rate * used_share then
        -- the visitors do not come in at this rate (their turn passed while they waited
        -- for their next refresh, or the line is short): a faster one would only pile
        -- turns up, to be claimed later all at once
        climb = nil
      else
        local step = math.max(0.5, rate * 0.05)
        local wanted = rate * (rise or 1.05)
        if settle then
          wanted = math.min(wanted, math.max(settle, rate * gentle_rise))
        end
        if wanted > rate + step then
          -- faster only up to what was let in since the last tuning, plus a margin
          step = math.max(step, math.min(wanted, served * served_margin) - rate)
        end
        climb = (rate + step) / rate
        rate = rate + step
      end
    end
    tuned_at, cut, rise, tuned_n = now, nil, nil, 0
  end
end
local outcome, number, position = 'admit', 0, 0
if open then
  -- turns the bucket could not hold were offered and nobody claimed them (their holders
  -- are between two refreshes, or gone): the line moves on by as many more, so that the
  -- visitors who do ask are let in at the rate and the shop does not idle behind a line
  local cap = math.max(1, rate * burst_s)
  local refilled = (tokens or cap) + rate * (now - tokens_at)
  local unclaimed = math.max(0, refilled - cap)
  serving = math.min(serving + rate * (now - moved_at) + unclaimed, issued + rate * burst_s)
  moved_at = now
  tokens, tokens_at = math.min(cap, refilled), now
  if ticket > 0 and ticket <= issued then
    number = ticket
  else
    issued = issued + 1
    number = issued
  end
  if number > serving then
    outcome = 'wait'
    position = math.ceil(number - serving)
  elseif tokens < 1 then
    -- their turn has come, but more turns were claimed in this moment than the rate lets
    -- in: next, at the front
    outcome = 'wait'
    position = 1
  else
    tokens = tokens - 1
  end
  if mode == 'auto' and now - hot_at >= calm_s and serving >= issued then
    open = false
    settle, round_from = nil, nil
  end
else
  issued = issued + 1
  serving = issued
end
if outcome == 'admit' then intake_n, tuned_n = intake_n + 1, tuned_n + 1 end
redis.call('HSET', key, 'issued', issued, 'serving', tostring(serving), 'moved_at',
  tostring(moved_at), 'open', open and '1' or '0', 'rate', tostring(rate), 'hot_at',
  tostring(hot_at), 'tuned_at', tostring(tuned_at), 'intake', tostring(intake),
  'intake_at', tostring(intake_at), 'intake_n', intake_n, 'floor', tostring(floor),
  'cut', cut and tostring(cut) or '', 'rise', rise and tostring(rise) or '',
  'tuned_n', tuned_n, 'climb', climb and tostring(climb) or '',
  'tokens', tokens and tostring(tokens) or '', 'tokens_at', tostring(tokens_at),
  'settle', settle and tostring(settle) or '',
  'round_from', round_from and tostring(round_from) or '')
-- the climb counts for the ETA only while the room is calm: a hot second cuts instead
local climbing = (open and mode == 'auto' and now - hot_at >= 1 and climb) or 1
return {outcome, number, position, tostring(rate), f[13] or '', tostring(climbing)}
"""


class Outcome(enum.Enum):
    NO_ROOM = "off"        # the room is off (or Redis is down: fail open)
    ADMIT = "admit"        # let in: give the visitor a pass
    WAIT = "wait"          # not yet: give the visitor their place


@dataclass(frozen=True)
class RoomSettings:
    """How every shop's room behaves; one value built from the app's settings."""

    default_admit_per_s: float = 10.0
    burst_s: float = 1.0           # an empty line lets this many seconds of intake in at once
    calm_s: float = 10.0           # auto: no overload for this long (and no line) closes it
    min_admit_per_s: float = 1.0   # auto: the line always moves
    # auto: the rate never falls below this share of the intake measured before opening.
    # In gunicorn, part of the overload is the crowd's own requests (arrivals, refreshes),
    # which admitting fewer would not relieve; the edge gate answers those itself, and sets 0.
    intake_floor_share: float = 0.5
    # auto: the factor an overloaded process asks for when it does not say otherwise.
    overload_cut: float = 0.9
    # auto: a rise faster than 5% a second never takes the rate past the visitors let in
    # per second since the last tuning times this.
    served_margin: float = 1.25
    # auto: the rate rises in a calm second only if at least this share of it was let in
    # since the last tuning; a rate the visitors do not come in at is held.
    rise_when_used_share: float = 0.8
    # auto: after a round of cuts the rate climbs back by the rise asked only up to the larger
    # of where the cuts left it and this share of the rate the round began at; past that,
    # by 5% a second. The load follows the rate a few seconds late: climbing 25% a second
    # up to the rate that overloaded overshot it again, and the round's halvings then left
    # the line at an eighth of it (a sawtooth of 2-4 s over the SLO every 15-20 s).
    settle_share: float = 0.5


@dataclass(frozen=True)
class Admission:
    outcome: Outcome
    number: int = 0
    position: int = 0
    eta_s: float = 0.0
    shop_name: str = ""


@dataclass(frozen=True)
class RoomStatus:
    mode: str
    admit_per_s: float | None   # the configured rate of mode `on`
    open: bool
    admitting_per_s: float | None  # the rate the line moves at now (None while closed)
    line_length: int
    intake_per_s: float         # measured: visitors let in per second, smoothed


def room_key(slug: str) -> str:
    return KEY_PREFIX + slug


def script_args(settings: RoomSettings, place_number: int | None,
                overloaded: bool, rate_cut: float | None = None,
                may_open: bool | None = None, rate_rise: float | None = None) -> list:
    """ADMIT_SCRIPT's arguments for one visitor (shared by every client of the line).
    `rate_cut`: the factor this process asks the rate to be multiplied by while overloaded
    (None: `settings.overload_cut`); `may_open`: whether its overload has lasted long enough
    to open a closed room (None: whenever overloaded); `rate_rise`: the factor it asks the
    rate to grow by in a calm second (None: 5%)."""
    return [place_number or 0, int(overloaded), settings.default_admit_per_s,
            settings.burst_s, settings.calm_s, settings.min_admit_per_s,
            settings.intake_floor_share,
            settings.overload_cut if rate_cut is None else rate_cut,
            int(overloaded if may_open is None else may_open),
            GENTLE_RISE if rate_rise is None else rate_rise, settings.served_margin,
            settings.rise_when_used_share, settings.settle_share, GENTLE_RISE]


def admission_from_answer(answer: list) -> Admission:
    """What ADMIT_SCRIPT's answer means for the visitor."""
    outcome = Outcome(_text(answer[0]))
    if outcome is Outcome.NO_ROOM:
        return Admission(outcome)
    rate = float(_text(answer[3]))
    climb = float(_text(answer[5])) if len(answer) > 5 else 1.0
    position = int(answer[2])
    return Admission(outcome, number=int(answer[1]), position=position,
                     eta_s=climbing_eta_s(position, rate, climb), shop_name=_text(answer[4]))


class RedisBreaker:
    """Fail open, and cheaply: after a Redis error the room answers "no room" without asking
    Redis for `RETRY_REDIS_AFTER_S`, so an outage costs no timeout per request."""

    def __init__(self) -> None:
        self._down_until = 0.0

    def open(self) -> bool:
        return time.monotonic() < self._down_until

    def tripped(self, error: Exception) -> Admission:
        self._down_until = time.monotonic() + RETRY_REDIS_AFTER_S
        log.warning("waiting room unavailable, letting visitors in: %s", error)
        return Admission(Outcome.NO_ROOM)


class Line:
    """The lines of every shop in one Redis, with a per-process breaker for outages."""

    def __init__(self, client: redis.Redis, settings: RoomSettings) -> None:
        self.client = client
        self.settings = settings
        self._script = client.register_script(ADMIT_SCRIPT)
        self.breaker = RedisBreaker()

    def admit(self, slug: str, place_number: int | None, overloaded: bool,
              rate_cut: float | None = None, may_open: bool | None = None,
              rate_rise: float | None = None) -> Admission:
        """Decide for one visitor without a pass: let in, keep waiting, or no room at all
        (what this process asks of the room: `script_args`)."""
        if self.breaker.open():
            return Admission(Outcome.NO_ROOM)
        try:
            answer = self._script(keys=[room_key(slug)],
                                  args=script_args(self.settings, place_number, overloaded,
                                                   rate_cut, may_open, rate_rise))
        except redis.RedisError as error:
            # Fail open: the shedder still protects the server without Redis.
            return self.breaker.tripped(error)
        return admission_from_answer(answer)

    def set_mode(self, slug: str, shop_name: str, mode: str,
                 admit_per_s: float | None) -> RoomStatus:
        """Switch the shop's room; a configured rate stays until it is changed again."""
        fields: dict[str, str] = {"mode": mode, "name": shop_name}
        if admit_per_s is not None:
            fields["admit_per_s"] = repr(float(admit_per_s))
        with self.client.pipeline() as pipe:
            pipe.hset(room_key(slug), mapping=fields)
            if mode == "off":
                pipe.hset(room_key(slug), "open", "0")
            pipe.execute()
        return self.status(slug)

    def status(self, slug: str) -> RoomStatus:
        """The shop's room as configured and as it stands."""
        values = {_text(k): _text(v) for k, v in self.client.hgetall(room_key(slug)).items()}
        mode = values.get("mode", "off")
        is_open = mode != "off" and values.get("open") == "1"
        issued = int(values.get("issued", 0))
        serving = float(values.get("serving", issued))
        configured = values.get("admit_per_s")
        return RoomStatus(
            mode=mode, admit_per_s=float(configured) if configured else None, open=is_open,
            admitting_per_s=round(float(values.get("rate", 0)), 2) if is_open else None,
            line_length=max(0, math.ceil(issued - serving)) if is_open else 0,
            intake_per_s=round(float(values.get("intake", 0)), 2))


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
