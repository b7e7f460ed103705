"""Commands on a connection of the thread's own (shop.core.redis_direct), on a real Redis:
a batch travels in one round trip, is never sent twice, and does not go out on a
connection the server closed while it was idle."""

from __future__ import annotations

import pytest
import redis

from common.redis_url import client_from_url
from shop.core.redis_direct import ThreadCommands, for_client


def test_a_batch_after_the_server_closed_the_connection_goes_once_on_a_fresh_one(
        redis_client):
    commands = ThreadCommands(redis_client)
    assert commands("PING") == b"PONG"  # the thread's connection is open now
    # The server drops every other client, as a restart or a failover would.
    redis_client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    replies = commands.batch(("XADD", "orders", "*", "order_id", "a"), ("INCR", "sent"))
    assert replies[1] == 1
    assert redis_client.xlen("orders") == 1 and int(redis_client.get("sent")) == 1


def test_a_refused_command_is_its_own_reply_and_the_others_still_run(redis_client):
    redis_client.set("word", "not a number")
    commands = ThreadCommands(redis_client)
    refused, counted = commands.batch(("INCR", "word"), ("INCR", "sent"))
    assert isinstance(refused, redis.ResponseError) and counted == 1
    assert commands("GET", "sent") == b"1"  # the connection is still in step


def test_one_set_of_commands_per_client():
    client = redis.Redis()  # never connected: nothing here talks to a server
    assert for_client(client) is for_client(client)
    assert for_client(client) is not for_client(redis.Redis())


@pytest.mark.parametrize("value", ["plain", "é ünïcode ✓", "two words", b"\x00\xff raw",
                                   0, -7, 2**70, 1.5, -0.0, 1e20, bytearray(b"array")])
def test_words_reach_redis_as_redis_py_sends_them(redis_client, value):
    """Commands are packed by hiredis where that gives redis-py's very bytes: what a
    command stores is what the client's own command stores, whatever the word's type (a
    bytearray, which hiredis does not take, goes redis-py's way)."""
    commands = ThreadCommands(redis_client)
    assert commands("SET", "direct", value) == b"OK"
    redis_client.set("client", value)
    assert redis_client.get("direct") == redis_client.get("client")
    replies = commands.batch(("SET", "batched", value), ("GET", "batched"))
    assert replies == [b"OK", redis_client.get("client")]


@pytest.mark.parametrize("word", [None, True, {"a": 1}])
def test_a_word_redis_cannot_take_is_refused_as_redis_py_refuses_it(redis_client, word):
    commands = ThreadCommands(redis_client)
    with pytest.raises(redis.DataError):
        commands("SET", "refused", word)
    with pytest.raises(redis.DataError):
        commands.batch(("SET", "refused", "x"), ("SET", "refused", word))
    assert redis_client.exists("refused") == 0  # nothing of the batch went out
    assert commands("PING") == b"PONG"  # and the connection is still in step


def test_a_client_with_another_encoding_packs_as_it_says(redis_server):
    """hiredis encodes text as UTF-8: a client set up with another encoding keeps its own."""
    latin = client_from_url(redis_server.url, encoding="latin-1")
    try:
        assert ThreadCommands(latin)("SET", "latin", "é") == b"OK"
        assert latin.get("latin") == b"\xe9"
    finally:
        latin.close()
