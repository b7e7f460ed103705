"""Single Redis commands on a connection of each thread's own, for the hottest requests.

An add to cart makes two Redis round trips; through redis-py's client each paid the pool's
check-out (a lock and a poll of the socket for stale data), its check-in, the retry wrapper
and the reply's callback: about as much CPU again as packing the command and reading the
reply. `ThreadCommands` keeps one connection per thread, made by the client's own pool (same
address, TLS, timeouts, health checks) and sends each command on it: the direct statements'
idea (shop/core/direct_statements.py), for Redis.

Replies are Redis's own (a hash is a flat list of fields and values). A command that fails on
a broken connection is sent once more on a fresh one, so only idempotent commands go through
a call; a second failure is raised as redis-py raises it (the app answers 503). `batch` sends
several commands in one round trip and never twice (an XADD may go there): like the pool's
check-out, it first replaces a connection that the server closed while it was idle. After a fork
the child opens its own connection and never touches the one it inherited. A Redis Cluster
client has no single pool: its commands go through the client as usual (`direct` is False).
"""

from __future__ import annotations

import os
import threading
import weakref

import redis

try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # redis-py without its C parser: commands are packed as it packs them
    _hiredis_pack = None


def _hiredis_packs_alike(connection_kwargs: dict) -> bool:
    """Whether hiredis's `pack_command` gives the very bytes redis-py would for connections
    made with `connection_kwargs`: text encoded as UTF-8, strictly, redis-py's default.
    Packing is then mostly saved: redis-py first runs each word through its encoder in
    Python (8 microseconds for an XADD, against 1)."""
    return (_hiredis_pack is not None
            and connection_kwargs.get("encoding", "utf-8") == "utf-8"
            and connection_kwargs.get("encoding_errors", "strict") == "strict")


class ThreadCommands:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        pool = getattr(client, "connection_pool", None)
        # A client with response callbacks of its own or decoded replies would answer other
        # shapes than the raw replies this gives: those go through the client too.
        self.direct = (pool is not None and isinstance(client, redis.Redis)
                       and not pool.connection_kwargs.get("decode_responses"))
        self._pool = pool
        self._hiredis_packs = self.direct and _hiredis_packs_alike(pool.connection_kwargs)
        self._local = threading.local()

    def __call__(self, *args):
        """The raw reply of one command (idempotent: it may be sent twice)."""
        try:
            return self._send(self._connection(), args)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            # A connection that broke while idle (a Redis restart, a failover): once more on
            # a fresh one, as the pool's retry would.
            self._forget()
            return self._send(self._connection(), args)

    def batch(self, *commands: tuple) -> list:
        """The replies of `commands`, sent in one round trip and never twice; a command that
        Redis refused has its error as its reply (a pipeline's `raise_on_error=False`). A
        client without a single pool sends them on its own pipeline (a Redis Cluster's goes
        to each command's shard), its replies shaped by the client's callbacks."""
        if not self.direct:
            with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return pipe.execute(raise_on_error=False)
        connection = self._connection()
        try:
            stale = connection._sock is not None and connection.can_read()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            stale = True
        if stale:  # closed by the server while idle, or holding a reply nobody read
            self._forget()
            connection = self._connection()
        try:
            connection.send_packed_command(self._packed(connection, commands))
            replies = []
            for _command in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as refused:
                    replies.append(refused)
            return replies
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            self._forget()
            raise

    def _send(self, connection, args):
        connection.send_packed_command(self._packed(connection, (args,)))
        return connection.read_response()

    def _packed(self, connection, commands) -> list[bytes]:
        """`commands` in Redis's protocol, each given as its separate words (the chunks
        `send_packed_command` sends)."""
        if self._hiredis_packs:
            try:
                return [b"".join(map(_hiredis_pack, commands))]
            except TypeError:  # a word hiredis does not take (a bytearray, None, ...)
                pass
        # redis-py's packing: its answer to such a word (a DataError for None) stands.
        return connection.pack_commands(commands)

    def _connection(self):
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            connection = local.connection = self._pool.make_connection()
            local.pid = os.getpid()
        return connection

    def _forget(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            connection.disconnect()
        self._local.connection = None

    def close(self) -> None:
        """Close this thread's connection (others close with their threads' sockets)."""
        self._forget()


# Each client's commands, kept as long as the client.
_FOR_CLIENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def for_client(client: redis.Redis) -> ThreadCommands:
    """The `ThreadCommands` of `client`, one per client in this process."""
    commands = _FOR_CLIENT.get(client)
    if commands is None:
        commands = _FOR_CLIENT[client] = ThreadCommands(client)
    return commands
