"""A CSV file between its dry run and the merchant's "import for real", kept in Redis.

The browser uploads the file once; the dry run's page then only carries a random key, so
the real import runs on exactly the bytes that were checked. The key is scoped to the shop
(another shop's key finds nothing) and used at most once. Plain functions over a client.
"""

from __future__ import annotations

import secrets

import redis

TTL_S = 30 * 60  # time to read the dry run's report and decide
_PREFIX = "peakshop:catalog-import"


def _key(merchant_id: int, staged: str) -> str:
    return f"{_PREFIX}:{merchant_id}:{staged}"


def stage(client: redis.Redis, merchant_id: int, raw: bytes) -> str:
    """Keep the file for TTL_S seconds; returns the key the confirmation form carries."""
    staged = secrets.token_urlsafe(18)
    client.set(_key(merchant_id, staged), raw, ex=TTL_S)
    return staged


def take(client: redis.Redis, merchant_id: int, staged: str) -> bytes | None:
    """The staged file, removed in the same step (a double click imports once); None when
    it expired, was already imported, or belongs to another shop."""
    with client.pipeline() as pipe:  # MULTI/EXEC: only one of two racing clicks gets it
        pipe.get(_key(merchant_id, staged))
        pipe.delete(_key(merchant_id, staged))
        raw, _ = pipe.execute()
    return raw
