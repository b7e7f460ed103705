"""The delivery outbox: a row per (event, endpoint), written with the change it announces, then
sent by the order worker, signed, and retried with backoff until the endpoint says 2xx.

Claiming takes a lease with a conditional UPDATE, as the mail outbox does, so two workers never
send one delivery at once and a worker that dies mid-send only delays it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from shop.core import outbox as shared_outbox
from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.merchants.models import Merchant
from shop.webhooks import signing
from shop.webhooks.models import WebhookDelivery, WebhookEndpoint
from shop.webhooks.ssrf import TargetRefused, checked_addresses
from shop.webhooks.transport import post_pinned

log = logging.getLogger(__name__)

DELIVERED = "delivered"
PENDING, FAILED = shared_outbox.PENDING, shared_outbox.FAILED
EVENTS = ("incident.opened", "incident.updated", "incident.resolved")


@dataclass(frozen=True)
class RetryPolicy(shared_outbox.RetryPolicy):
    base_s: float = 10.0
    max_s: float = 3600.0
    # Doubling from 10 s and capped at an hour, 16 attempts span about seven and a half hours.
    max_attempts: int = 16
    lease_s: float = 60.0
    timeout_s: float = 10.0


def backoff_s(attempts: int, policy: RetryPolicy) -> float:
    return policy.backoff_s(attempts)


def announce(session: Session, incident: Any, event: str, incident_document: dict[str, Any],
             now: datetime) -> int:
    """Queue `event` for every endpoint that subscribed to it and may see the incident: the
    shop's own for a shop incident, every shop's for a platform-wide one."""
    statement = select(WebhookEndpoint, Merchant.slug).join(
        Merchant, Merchant.id == WebhookEndpoint.merchant_id)
    if incident.merchant_id is not None:
        statement = statement.where(WebhookEndpoint.merchant_id == incident.merchant_id)
    rows = []
    for endpoint, slug in session.execute(statement):
        if event not in endpoint.events:
            continue
        event_id = "evt_" + uuid.uuid4().hex
        body = {"id": event_id, "type": event, "created": int(time.time()), "shop": slug,
                "data": {"incident": incident_document}}
        rows.append({"endpoint_id": endpoint.id, "event_id": event_id, "event": event,
                     "payload": json.dumps(body, separators=(",", ":"), sort_keys=True),
                     "status": PENDING, "attempts": 0, "next_attempt_at": now,
                     "created_at": now})
    if rows:
        session.execute(insert(WebhookDelivery.__table__), rows)
    return len(rows)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    event_id: str
    event: str
    payload: str
    attempts: int
    url: str
    secret: str


def claim_due(session: Session, now: datetime, limit: int, policy: RetryPolicy) -> list[Claimed]:
    claimed_ids = [row.id for row in shared_outbox.claim_due(
        session, WebhookDelivery, now, limit, policy.lease_s, WebhookDelivery.id)]
    if not claimed_ids:
        return []
    rows = session.execute(
        select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(claimed_ids)).order_by(WebhookDelivery.id))
    return [Claimed(d.id, d.event_id, d.event, d.payload, d.attempts, url, secret)
            for d, url, secret in rows]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None  # None: delivered


Sender = Callable[[Claimed], Outcome]


def http_sender(*, allow_private: bool, policy: RetryPolicy,
                ca_certs: str | None = None) -> Sender:
    """Send a delivery: SSRF check again, sign, POST to the checked addresses only.

    `ca_certs` replaces the system's trusted certificates (tests with their own CA)."""
    import urllib3

    def send(delivery: Claimed) -> Outcome:
        try:
            addresses = checked_addresses(delivery.url, allow_private=allow_private)
        except TargetRefused as refused:
            return Outcome(None, f"refused before sending: {refused}")
        body = delivery.payload.encode()
        headers = {"Content-Type": "application/json",
                   "User-Agent": "peakshop-webhooks/1",
                   "Peakshop-Event": delivery.event,
                   "Peakshop-Delivery": delivery.event_id,
                   "Peakshop-Signature": signing.signature_header(delivery.secret,
                                                                  int(time.time()), body)}
        try:
            answer = post_pinned(delivery.url, addresses, body, headers,
                                 timeout_s=policy.timeout_s, ca_certs=ca_certs)
        except urllib3.exceptions.HTTPError as problem:
            return Outcome(None, f"{type(problem).__name__}: {problem}"[:500])
        if 200 <= answer.status_code < 300:
            return Outcome(answer.status_code, None)
        return Outcome(answer.status_code, f"the endpoint answered {answer.status_code}")

    return send


def _record(session: Session, delivery: Claimed, outcome: Outcome, now: datetime,
            policy: RetryPolicy) -> None:
    if outcome.error is None:
        values: dict[str, Any] = {"status": DELIVERED, "delivered_at": now,
                                  "last_status_code": outcome.status_code, "last_error": None}
    else:
        values, gave_up = shared_outbox.failure_values(delivery.attempts, outcome.error, now,
                                                       policy)
        values["last_status_code"] = outcome.status_code
        if gave_up:
            log.error("gave up on webhook %s to %s after %d attempts: %s", delivery.event_id,
                      delivery.url, delivery.attempts, outcome.error)
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.delivery_id)
                    .values(**values).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int


def deliver_due(database: Database, send: Sender, policy: RetryPolicy,
                limit: int = 20) -> DeliveryReport:
    """Send the deliveries that are due; never holds a lock while talking to an endpoint."""
    now = utcnow()
    if not shared_outbox.any_due(database, WebhookDelivery, now):
        return DeliveryReport(0, 0)
    with database.transaction() as session:
        claimed = claim_due(session, now, limit, policy)
    outcomes = []
    for delivery in claimed:
        try:
            outcomes.append((delivery, send(delivery)))
        except Exception as problem:  # a sender bug must not strand the claimed rest
            log.exception("webhook sender failed")
            outcomes.append((delivery, Outcome(None, f"{type(problem).__name__}: {problem}")))
    now = utcnow()
    with database.transaction() as session:
        for delivery, outcome in outcomes:
            _record(session, delivery, outcome, now, policy)
    failed = sum(1 for _, outcome in outcomes if outcome.error is not None)
    return DeliveryReport(len(outcomes) - failed, failed)
