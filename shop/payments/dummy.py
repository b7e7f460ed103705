"""A gateway with no card network for development and load tests: `tok_ok` pays, `tok_declined`
fails.

Like a real gateway it keeps a ledger of the payments it took, in Redis, one entry per
idempotency key: a retried payment gets its first outcome back instead of a second charge, and
a developer (or a test) can count what a shopper was really charged.

It can also be down on purpose, for a drill: while the key `OUTAGE_KEY` exists in its Redis
(`start_outage`, with the drill's length as its expiry), every charge fails as an unreachable
provider does, so a rehearsal can watch checkout fail, an incident open by itself and the
merchants' webhooks go out, then all of it recover (`peakshop rehearse --payments-outage`).
"""

from __future__ import annotations

import json
import time

import redis

from shop.core import redis_direct
from shop.payments.interface import (
    GatewayUnavailable,
    InvalidPaymentToken,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
)

TOKENS = {
    "tok_ok": PaymentStatus.SUCCEEDED,
    "tok_declined": PaymentStatus.FAILED,
}
# One Redis key per idempotency key: {"order_id", "amount", "currency", "status"}, kept as
# long as Stripe keeps its idempotency keys.
LEDGER_PREFIX = "peakshop:dummy:payment:"
LEDGER_TTL_S = 24 * 3600
# While this key exists the gateway is down (a drill). Each process reads it at most once a
# second, so a drill costs the charges no round trip of their own beyond that.
OUTAGE_KEY = "peakshop:dummy:outage"
OUTAGE_READ_EVERY_S = 1.0


class DummyGateway:
    name = "dummy"

    def __init__(self, ledger: redis.Redis | None = None):
        self.ledger = ledger
        # The ledger's write on a connection of the thread's own (one per checkout).
        self._commands = None if ledger is None else redis_direct.for_client(ledger)
        self._outage_read_at = float("-inf")
        self._outage = False

    def check_token(self, token: str) -> None:
        if token not in TOKENS:
            raise InvalidPaymentToken(f"the dummy gateway takes 'tok_ok' or 'tok_declined': "
                                      f"got {token!r}")

    def charge(self, request: PaymentRequest) -> PaymentResult:
        self.check_token(request.token)
        if self._in_outage():
            raise GatewayUnavailable("the dummy gateway is down for a drill (the key "
                                     f"{OUTAGE_KEY} is set in Redis until it expires)")
        status = self._record(request, TOKENS[request.token])
        return PaymentResult(
            status=status,
            reference=f"dummy_{request.idempotency_key}",
            failure_reason="card_declined" if status is PaymentStatus.FAILED else None,
        )

    def _in_outage(self) -> bool:
        """Whether a drill has the gateway down, read from Redis at most once a second."""
        if self.ledger is None:
            return False
        now = time.monotonic()
        if now - self._outage_read_at >= OUTAGE_READ_EVERY_S:
            self._outage_read_at = now
            try:
                self._outage = bool(self.ledger.exists(OUTAGE_KEY))
            except redis.exceptions.RedisError:
                self._outage = False   # the ledger's own write will say Redis is gone
        return self._outage

    def _record(self, request: PaymentRequest, status: PaymentStatus) -> PaymentStatus:
        """Write the payment once per idempotency key; the outcome first recorded wins."""
        if self.ledger is None:
            return status
        entry = json.dumps({"order_id": request.order_id, "amount": request.amount,
                            "currency": request.currency, "status": status.value})
        key = LEDGER_PREFIX + request.idempotency_key
        try:
            try:
                # One atomic command (Redis >= 7.0): write unless written, and answer what was
                # there before; nothing there means this entry is the one recorded.
                # Sent again on a fresh connection if the first broke: a repeat answers this
                # very entry, which is the same outcome.
                earlier = (self._commands("SET", key, entry, "NX", "GET", "EX", LEDGER_TTL_S)
                           if self._commands.direct else
                           self.ledger.set(key, entry, nx=True, get=True, ex=LEDGER_TTL_S))
            except redis.exceptions.ResponseError:
                earlier = _record_before_redis_7(self.ledger, key, entry)
        except redis.exceptions.RedisError as problem:
            raise GatewayUnavailable(f"the dummy gateway's ledger (Redis) is unreachable: "
                                     f"{problem}") from None
        return status if earlier is None else PaymentStatus(json.loads(earlier)["status"])


def _record_before_redis_7(ledger: redis.Redis, key: str, entry: str) -> bytes | None:
    """`SET NX GET` as a transaction, for a Redis that refuses NX with GET; same answer."""
    with ledger.pipeline() as pipe:  # MULTI/EXEC: read back what won
        pipe.set(key, entry, nx=True, ex=LEDGER_TTL_S)
        pipe.get(key)
        written, recorded = pipe.execute()
    return None if written else recorded


def payments(ledger: redis.Redis) -> list[dict]:
    """Every payment the dummy gateway recorded in the last day, in no particular order."""
    entries = (ledger.get(key) for key in ledger.scan_iter(match=LEDGER_PREFIX + "*"))
    return [json.loads(entry) for entry in entries if entry is not None]


def charges(ledger: redis.Redis) -> list[dict]:
    """The payments that took the shopper's money."""
    return [payment for payment in payments(ledger)
            if payment["status"] == PaymentStatus.SUCCEEDED.value]


def start_outage(client: redis.Redis, seconds: float) -> None:
    """Take the dummy gateway down for `seconds` (every process, within a second)."""
    client.set(OUTAGE_KEY, "drill", px=max(1, round(seconds * 1000)))
