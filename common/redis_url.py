"""A Redis client from a URL, for a single server or a Redis Cluster.

`?cluster=true` on a `redis://` or `rediss://` URL names any node of a Redis Cluster; the
client then learns the slot map and sends each key to its master. Every key peakshop writes
together with another carries the same hash tag (`{orders}`), so a transaction never spans
two slots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

if TYPE_CHECKING:
    import redis
    from redis.cluster import RedisCluster


def cluster_flag(url: str) -> tuple[str, bool]:
    """`url` without its `cluster=` flag, and whether it asked for a cluster.

    ValueError names a flag that is neither true nor false.
    """
    parsed = urlparse(url)
    query = parse_qsl(parsed.query, keep_blank_values=True)
    flags = [value for name, value in query if name == "cluster"]
    if not flags:
        return url, False
    if any(value not in ("true", "false") for value in flags):
        raise ValueError(f"has cluster={flags[0]!r}: write cluster=true (a Redis Cluster) "
                         "or leave it out")
    rest = urlencode([(name, value) for name, value in query if name != "cluster"])
    return urlunparse(parsed._replace(query=rest)), flags[-1] == "true"


def check_redis_url(url: str) -> None:
    """ValueError, naming the part and the fix, for a database number or `cluster=` flag
    that redis-py would only refuse when it first connects (with a traceback)."""
    parsed = urlparse(url)
    databases = [value for name, value in parse_qsl(parsed.query, keep_blank_values=True)
                 if name == "db"]
    if parsed.scheme != "unix" and parsed.path.strip("/"):
        # redis://host:port/N: the path names the database (a unix:// path is the socket).
        databases.append(parsed.path.strip("/"))
    for database in databases:
        if not (database.isascii() and database.isdigit()):
            raise ValueError(f"has database {database!r}, which is not a number of 0 or more: "
                             "write it like redis://localhost:6379/0")
    _, clustered = cluster_flag(url)
    if clustered and any(int(database) != 0 for database in databases):
        raise ValueError("asks a Redis Cluster for a database other than 0, which a cluster "
                         "does not have: leave the database out")


def client_from_url(url: str, **options: Any) -> redis.Redis | RedisCluster:
    """A client for `url` (see the module's docstring); `options` go to redis-py."""
    import redis
    from redis.cluster import RedisCluster

    plain, clustered = cluster_flag(url)
    if clustered:
        options.pop("health_check_interval", None)
        return RedisCluster.from_url(plain, **options)
    return redis.Redis.from_url(plain, **options)
