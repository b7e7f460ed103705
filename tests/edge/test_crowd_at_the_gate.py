"""A crowd far larger than the gate's Redis connections, all at once: every visitor gets a
place in line, none is let through by a room that "failed open" for want of a connection.

The gate in front of gunicorn serving the stand-in app (`slow_app`), a real redis-server
holding the line, real HTTP from an asyncio client with hundreds of connections open at once.
"""

import asyncio

import aiohttp
import pytest
import redis

from shop.edge.room import REDIS_CONNECTIONS
from shop.waiting_room.service import room_key
from tests.edge.conftest import start_gate

pytestmark = pytest.mark.slow
CROWD = 8 * REDIS_CONNECTIONS


async def arrive_at_once(url: str, count: int) -> list[tuple[int, str | None]]:
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = asyncio.Event()

        async def visitor() -> tuple[int, str | None]:
            await start.wait()
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as answer:
                body = await answer.json(content_type=None) if answer.status == 503 else {}
                return answer.status, body.get("code")

        tasks = [asyncio.create_task(visitor()) for _ in range(count)]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


def test_a_crowd_beyond_the_redis_connections_all_wait_in_line(slow_app, gate_redis, tmp_path):
    client = redis.Redis.from_url(gate_redis.url)
    client.delete(room_key("acme"))
    # The room on at one visitor per 100 s, its first second's burst long used up.
    client.hset(room_key("acme"), mapping={"mode": "on", "admit_per_s": "0.01", "open": "1",
                                           "name": "Acme", "issued": "0", "serving": "0",
                                           "moved_at": "0"})
    gate = start_gate(slow_app.port, gate_redis.url, tmp_path)
    try:
        answers = asyncio.run(arrive_at_once(
            f"{gate.url}/api/v1/shops/acme/products/MUG?sleep_s=0.05", CROWD))
    finally:
        gate.stop()
    let_through = [status for status, _ in answers if status != 503]
    assert let_through == [], f"{len(let_through)} of {CROWD} let through"
    assert {code for _, code in answers} == {"waiting_room"}
    assert int(client.hget(room_key("acme"), "issued")) == CROWD   # each took a number
