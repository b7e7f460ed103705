"""The sign-in throttle: failed attempts counted per account and per client in Redis.

It is asked before the password is hashed, so a flood of guesses costs one Redis round trip
each once refused, never an argon2 hash: shoppers keep the CPU. Built on `limits` (the
library under Flask-Limiter) with a moving window, sharing the app's Redis connection pool;
Flask-Limiter itself cannot count only failures per e-mail read from the body.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from shop.core.errors import Problem
from shop.core.redis import limits_storage


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
    def __init__(self, client: redis.Redis, account_limit: str, client_limit: str,
                 host_rate: str = "2 per second"):
        storage = limits_storage(client, "peakshop:signin")
        self._limiter = MovingWindowRateLimiter(storage)
        self._limits: tuple[tuple[str, RateLimitItem], ...] = (
            ("account", parse(account_limit)), ("client", parse(client_limit)))
        self._host_rate = parse(host_rate)
        self._host = _hashed(socket.gethostname())

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

    def take_hash_budget(self) -> None:
        """Count one password check against this host's budget, or refuse with 429.

        The per-account and per-client limits stop a few sources; this one bounds the CPU
        that sign-ins of the whole world can take from shoppers on this host.
        """
        if not self._limiter.hit(self._host_rate, "host", self._host):
            raise SignInBusy("the server is checking many sign-ins right now: retry in 1 s", 1)

    def record_failure(self, email: str, client: str) -> None:
        keys = self._keys(email, client)
        for kind, item in self._limits:
            self._limiter.hit(item, kind, keys[kind])


class SignInBusy(TooManyRequests):
    # 429, not 503: the service is up; this host takes no more password checks this second.
    status, code, title = 429, "signin_busy", "Sign-in busy"


class HashingSlots:
    """At most `slots` password checks at once on this host, whatever the worker count.

    Each slot is an flock on a file under the instance folder: the kernel releases it if a
    worker dies, and it is per host, which is what shares the CPU. A sign-in that finds no
    free slot is answered 429 at once instead of queueing behind hashes, so the other
    workers stay free for shoppers. `slots` 0 means no cap.
    """

    def __init__(self, folder: str, slots: int):
        self.folder = folder
        self.slots = slots
        self._files: dict[int, list[int]] = {}  # by pid: descriptors must not cross a fork

    def _descriptors(self) -> list[int]:
        pid = os.getpid()
        if pid not in self._files:
            os.makedirs(self.folder, exist_ok=True)
            self._files = {pid: [os.open(os.path.join(self.folder, f"slot-{n}.lock"),
                                         os.O_RDWR | os.O_CREAT, 0o600)
                                 for n in range(self.slots)]}
        return self._files[pid]

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.slots <= 0:
            yield
            return
        for descriptor in self._descriptors():
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
            return
        raise SignInBusy("the server is checking other sign-ins right now: retry in 1 s", 1)
