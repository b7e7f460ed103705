"""The waiting room's decision at the edge: the in-app room's, asynchronously.

Same line (one Redis hash per shop), same Lua script and arguments, same signed places and
passes, same failure rule (Redis down: no room, and no Redis call for a while), same memory
of shops without a room: only the client is redis.asyncio instead of redis-py's blocking one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
import redis.asyncio

from common.redis_url import cluster_flag
from shop.waiting_room.service import (
    ADMIT_SCRIPT,
    OFF_CACHE_MAX_SHOPS,
    OFF_CACHE_S,
    Admission,
    Outcome,
    RedisBreaker,
    RoomSettings,
    admission_from_answer,
    room_key,
    script_args,
)
from shop.waiting_room.tickets import Tickets

# Redis connections one gate process opens at most. redis.asyncio's own pool refuses the
# 101st concurrent call ("Too many connections"); during a surge the gate has hundreds of
# decisions in flight, every refusal tripped the breaker, and the room failed open for 2 s
# every few seconds, letting the crowd through to gunicorn. A blocking pool makes a decision
# wait for a connection instead (Redis answers one command at a time anyway).
REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 2.0   # as long as a command may take: then the breaker, as for a timeout


def async_client(url: str) -> redis.asyncio.Redis:
    """A redis.asyncio client for PEAKSHOP_REDIS_URL (a single server or a Redis Cluster)."""
    plain, clustered = cluster_flag(url)
    options = {"socket_timeout": 2, "socket_connect_timeout": 2}
    if clustered:
        return redis.asyncio.RedisCluster.from_url(plain, **options)
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        plain, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S, **options)
    return redis.asyncio.Redis.from_pool(pool)


class AsyncLine:
    """`shop.waiting_room.service.Line.admit`, awaited."""

    def __init__(self, client: redis.asyncio.Redis, settings: RoomSettings) -> None:
        self.settings = settings
        self._script = client.register_script(ADMIT_SCRIPT)
        self.breaker = RedisBreaker()

    async def admit(self, slug: str, place_number: int | None, overloaded: bool,
                    rate_cut: float | None = None, may_open: bool | None = None,
                    rate_rise: float | None = None) -> Admission:
        if self.breaker.open():
            return Admission(Outcome.NO_ROOM)
        try:
            answer = await self._script(keys=[room_key(slug)],
                                        args=script_args(self.settings, place_number,
                                                         overloaded, rate_cut, may_open,
                                                         rate_rise))
        except (redis.RedisError, OSError) as error:
            return self.breaker.tripped(error)
        return admission_from_answer(answer)


@dataclass(frozen=True)
class RoomAnswer:
    """What the room says about one request: wait (with the place to hand back), or go on,
    carrying a pass when the visitor was let in just now."""

    admission: Admission | None = None   # set when the visitor must wait
    place_token: str | None = None
    new_pass: str | None = None
    admitted: bool = False               # holds a pass or was let in now


class EdgeRoom:
    def __init__(self, line: AsyncLine, tickets: Tickets) -> None:
        self.line = line
        self.tickets = tickets
        self._no_room_until: dict[str, float] = {}

    async def decide(self, slug: str, ticket: str | None, overloaded: bool,
                     rate_cut: float | None = None, may_open: bool | None = None,
                     rate_rise: float | None = None) -> RoomAnswer:
        """The room's answer for a visitor of `slug` presenting `ticket` (or none);
        `rate_cut`: by what an overloaded gate asks the admission rate to be multiplied;
        `may_open`: whether its overload lasted long enough to open the room; `rate_rise`:
        by what a calm gate asks the rate to grow (`service.script_args`)."""
        if self.tickets.has_pass(ticket, slug):
            return RoomAnswer(admitted=True)
        if self._no_room_until.get(slug, 0.0) > time.monotonic():
            return RoomAnswer()
        place = self.tickets.read_place(ticket, slug)
        admission = await self.line.admit(slug, place.number if place else None, overloaded,
                                          rate_cut, may_open, rate_rise)
        if admission.outcome is Outcome.NO_ROOM:
            if len(self._no_room_until) >= OFF_CACHE_MAX_SHOPS:
                self._no_room_until.clear()
            self._no_room_until[slug] = time.monotonic() + OFF_CACHE_S
            return RoomAnswer()
        if admission.outcome is Outcome.WAIT:
            return RoomAnswer(admission=admission,
                              place_token=self.tickets.place(slug, admission.number))
        return RoomAnswer(new_pass=self.tickets.admission(slug), admitted=True)
