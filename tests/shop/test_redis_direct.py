"""Commands on a connection of the thread's own (shop.core.redis_direct), on a real Redis:
a batch travels in one round trip, is never sent twice, and does not go out on a
connection the server closed while it was idle."""

from __future__ import annotations

import redis

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
