"""Signed places in line and passes: what a visitor carries between requests.

A place says "number n in the line of shop s"; a pass says "let in by shop s's room". Both
are signed with the application's secret key (HMAC-SHA256 through itsdangerous) and dated,
so nobody can forge a better number, move a pass to another shop, or keep one forever.
Pages carry them in a cookie, API clients in the `Peakshop-Waiting-Room` header (or the
`waiting_room` query parameter); the visitor sends back whatever it was given last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

PLACE_SALT = "peakshop.waiting-room.place"
PASS_SALT = "peakshop.waiting-room.pass"
# A place older than this is forgotten: whoever comes back after it queues again.
PLACE_MAX_AGE_S = 6 * 3600


@dataclass(frozen=True)
class Place:
    slug: str
    number: int


class Tickets:
    """Signs and checks the places and passes of every shop with one secret key."""

    def __init__(self, secret_key: str, pass_ttl_s: int) -> None:
        options = {"signer_kwargs": {"digest_method": hashlib.sha256}}
        self._places = URLSafeTimedSerializer(secret_key, salt=PLACE_SALT, **options)
        self._passes = URLSafeTimedSerializer(secret_key, salt=PASS_SALT, **options)
        self.pass_ttl_s = pass_ttl_s

    def place(self, slug: str, number: int) -> str:
        return self._places.dumps([slug, number])

    def admission(self, slug: str) -> str:
        return self._passes.dumps(slug)

    def read_place(self, token: str | None, slug: str) -> Place | None:
        """The place `token` holds in `slug`'s line; None if it holds none (or is forged)."""
        if not token:
            return None
        try:
            body = self._places.loads(token, max_age=PLACE_MAX_AGE_S)
        except BadData:
            return None
        if (not isinstance(body, list) or len(body) != 2 or body[0] != slug
                or not isinstance(body[1], int) or isinstance(body[1], bool) or body[1] < 1):
            return None
        return Place(slug, body[1])

    def has_pass(self, token: str | None, slug: str) -> bool:
        """Whether `token` is a valid, unexpired pass for `slug`."""
        if not token:
            return False
        try:
            return self._passes.loads(token, max_age=self.pass_ttl_s) == slug
        except BadData:
            return False
