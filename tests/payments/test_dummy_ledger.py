"""The dummy gateway's ledger on a real Redis: a payment is recorded once per idempotency key,
and a retry gets the first outcome back, whichever token it carries."""

from __future__ import annotations

import time

import pytest
import redis

from shop.payments import dummy
from shop.payments.interface import GatewayUnavailable, PaymentRequest, PaymentStatus

# One key each: a single Redis and a Redis Cluster answer alike.
pytestmark = pytest.mark.redis_topologies


def payment(token: str, key: str = "order-1") -> PaymentRequest:
    return PaymentRequest(order_id="1", amount=1299, currency="EUR", token=token,
                          email="ada@example.com", idempotency_key=key)


def test_a_retry_gets_the_first_outcome_and_charges_once(redis_client):
    gateway = dummy.DummyGateway(redis_client)
    assert gateway.charge(payment("tok_ok")).status is PaymentStatus.SUCCEEDED
    # The same order's payment again, even with a card that would be declined: still paid.
    assert gateway.charge(payment("tok_declined")).status is PaymentStatus.SUCCEEDED
    assert gateway.charge(payment("tok_declined", "order-2")).status is PaymentStatus.FAILED
    assert gateway.charge(payment("tok_ok", "order-2")).status is PaymentStatus.FAILED
    assert [entry["order_id"] for entry in dummy.charges(redis_client)] == ["1"]
    assert redis_client.ttl(dummy.LEDGER_PREFIX + "order-1") > 0


def test_the_transaction_for_an_older_redis_answers_alike(redis_client):
    key = dummy.LEDGER_PREFIX + "order-3"
    assert dummy._record_before_redis_7(redis_client, key, '{"status": "succeeded"}') is None
    earlier = dummy._record_before_redis_7(redis_client, key, '{"status": "failed"}')
    assert earlier == b'{"status": "succeeded"}'
    assert redis_client.set(key, "x", nx=True, get=True) == earlier


def test_an_unreachable_ledger_charges_nothing_and_says_so():
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with pytest.raises(GatewayUnavailable, match="unreachable"):
        dummy.DummyGateway(gone).charge(payment("tok_ok"))


def test_a_drill_takes_the_gateway_down_for_its_length_and_charges_nothing(redis_client):
    """`start_outage` sets a key with the drill's length as its expiry: charges fail as an
    unreachable provider's do (the checkout answers 503, keeps the order) and none is
    recorded; once it expires (read at most once a second) charges go through again."""
    gateway = dummy.DummyGateway(redis_client)
    assert gateway.charge(payment("tok_ok", "before")).status is PaymentStatus.SUCCEEDED
    dummy.start_outage(redis_client, 4.0)
    time.sleep(dummy.OUTAGE_READ_EVERY_S)   # the gateway read the key before the drill
    with pytest.raises(GatewayUnavailable, match="down for a drill"):
        gateway.charge(payment("tok_ok", "during"))
    assert not redis_client.exists(dummy.LEDGER_PREFIX + "during")
    time.sleep(3.2)
    assert gateway.charge(payment("tok_ok", "during")).status is PaymentStatus.SUCCEEDED
    assert [entry["order_id"] for entry in dummy.charges(redis_client)] == ["1", "1"]
