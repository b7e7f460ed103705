"""The sign-in throttle: failed attempts counted per account and per client in Redis.

It is asked before the password is hashed, so a flood of guesses costs one Redis round trip
each once refused, never an argon2 hash: shoppers keep the CPU. Built on `limits` (the
library under Flask-Limiter) with a moving window, sharing the app's Redis connection pool;
Flask-Limiter itself cannot count only failures per e-mail read from the body.
"""

from __future__ import annotations

import hashlib
import math
import time

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from shop.core.errors import Problem


class TooManyRequests(Problem):
    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str, retry_after_s: int, *, code: str | None = None,
                 extra: dict | None = None):
        super().__init__(detail, code=code, extra={"retry_after_s": retry_after_s,
                                                   **(extra or {})})
        self.retry_after_s = retry_after_s


def _hashed(value: str) -> str:
    # E-mails and addresses stay out of Redis keys.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class SignInThrottle:
    def __init__(self, client: redis.Redis, account_limit: str, client_limit: str):
        storage = RedisStorage("redis://", connection_pool=client.connection_pool,
                               key_prefix="peakshop:signin")
        self._limiter = MovingWindowRateLimiter(storage)
        self._limits: tuple[tuple[str, RateLimitItem], ...] = (
            ("account", parse(account_limit)), ("client", parse(client_limit)))

    def _keys(self, email: str, client: str) -> dict[str, str]:
        return {"account": _hashed(email.lower()), "client": _hashed(client)}

    def refuse_if_exceeded(self, email: str, client: str) -> None:
        """Raise TooManyRequests (429) when the account or the client used up its attempts."""
        keys = self._keys(email, client)
        for kind, item in self._limits:
            if not self._limiter.test(item, kind, keys[kind]):
                stats = self._limiter.get_window_stats(item, kind, keys[kind])
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyRequests(
                    f"too many failed sign-ins for this {kind}: wait {retry_after} s and "
                    "check the e-mail and password", retry_after, code="too_many_attempts",
                    extra={"scope": kind})

    def record_failure(self, email: str, client: str) -> None:
        keys = self._keys(email, client)
        for kind, item in self._limits:
            self._limiter.hit(item, kind, keys[kind])
