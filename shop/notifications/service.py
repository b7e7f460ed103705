"""The mail outbox: queue a mail with the change it reports, deliver it later, retry with backoff.

A mail is a row first, written in the transaction that confirms the order, so it exists
exactly when the order is confirmed. Delivery claims due rows with a conditional UPDATE (a
lease), so two workers never send the same row at once; a worker that dies mid-send leaves
the lease to run out and the mail is tried again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from shop.core import outbox
from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.notifications.mailer import Mailer, OutgoingMessage
from shop.notifications.models import OutgoingMail

log = logging.getLogger(__name__)

ORDER_CONFIRMATION = "order_confirmation"
SENT = "sent"
PENDING, FAILED = outbox.PENDING, outbox.FAILED


@dataclass(frozen=True)
class RetryPolicy(outbox.RetryPolicy):
    """How often and how patiently a mail is retried while the provider fails."""

    base_s: float = 30.0
    max_s: float = 3600.0
    # 25 attempts at the cap is about a day of provider outage before a mail is given up.
    max_attempts: int = 25
    lease_s: float = 120.0


def backoff_s(attempts: int, policy: RetryPolicy) -> float:
    return policy.backoff_s(attempts)


class ConfirmationFacts(NamedTuple):
    """What the confirmation mail tells the shopper. (A named tuple: one is made for every
    order a worker confirms, and a frozen dataclass sets each field through
    object.__setattr__, three times the cost.)"""

    order_id: str
    email: str
    items: list[tuple[str, int, int]]  # (name, quantity, unit price in minor units)
    total_amount: int
    currency: str
    carrier_name: str
    promised_delivery_date: date
    arrives_before_christmas: bool
    shipping_amount: int = 0  # included in total_amount
    tax_amount: int = 0  # VAT in total_amount: included, or added when prices were net
    prices_include_vat: bool = True
    # The shopper's order page with its access token (absolute); None leaves the line out.
    order_url: str | None = None


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency}"


def render_confirmation(facts: ConfirmationFacts) -> tuple[str, str]:
    """Subject and plain-text body of an order confirmation; no side effects."""
    subject = f"Your order {facts.order_id[:8]} is confirmed"
    lines = [f"  {quantity} x {name}  {_money(price * quantity, facts.currency)}"
             for name, quantity, price in facts.items]
    christmas = ("It arrives before Christmas Eve." if facts.arrives_before_christmas
                 else "It will not arrive before Christmas Eve.")
    body = "\n".join([
        "Thank you for your order.", "",
        *lines,
        *([f"  Shipping  {_money(facts.shipping_amount, facts.currency)}"]
          if facts.shipping_amount else []),
        "", f"Total: {_money(facts.total_amount, facts.currency)}",
        *([f"Includes VAT: {_money(facts.tax_amount, facts.currency)}"]
          if facts.tax_amount and facts.prices_include_vat else []),
        *([f"VAT added to net prices: {_money(facts.tax_amount, facts.currency)}"]
          if not facts.prices_include_vat else []), "",
        f"Shipping with {facts.carrier_name}; expected delivery on "
        f"{facts.promised_delivery_date.isoformat()}. {christmas}", "",
        f"Order number: {facts.order_id}",
        *([f"Your order, at any time: {facts.order_url}"] if facts.order_url else []), ""])
    return subject, body


def queue_confirmations(session: Session, facts: list[ConfirmationFacts],
                        now: datetime | None = None) -> None:
    """Add one confirmation mail per order to the outbox, in the caller's transaction."""
    if not facts:
        return
    now = now or utcnow()
    rendered = [render_confirmation(fact) for fact in facts]
    # The unique (order_id, kind) refuses a second confirmation of the same order.
    if session.get_bind().dialect.name == "postgresql":
        # One statement whatever the batch: four binary array parameters, one row per
        # element. An executemany would send, bind and run an INSERT per mail.
        session.connection().exec_driver_sql(_INSERT_CONFIRMATIONS, {
            "order_ids": [fact.order_id for fact in facts],
            "recipients": [fact.email for fact in facts],
            "subjects": [subject for subject, _ in rendered],
            "bodies": [body for _, body in rendered],
            "kind": ORDER_CONFIRMATION, "status": PENDING, "now": now})
        return
    session.execute(insert(OutgoingMail.__table__), [
        {"order_id": fact.order_id, "kind": ORDER_CONFIRMATION, "recipient": fact.email,
         "subject": subject, "body": body, "status": PENDING, "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for fact, (subject, body) in zip(facts, rendered, strict=True)])


_INSERT_CONFIRMATIONS = """
    INSERT INTO outgoing_mail (order_id, kind, recipient, subject, body, status, attempts,
                               next_attempt_at, created_at)
    SELECT mail.order_id, %(kind)s, mail.recipient, mail.subject, mail.body, %(status)s, 0,
           %(now)s, %(now)s
    FROM unnest(%(order_ids)b, %(recipients)b, %(subjects)b, %(bodies)b)
         AS mail(order_id, recipient, subject, body)"""


def claim_due(session: Session, now: datetime, limit: int,
              policy: RetryPolicy) -> list[OutgoingMessage]:
    """Take up to `limit` due mails for `policy.lease_s`; rows another sender took are skipped."""
    claimed = outbox.claim_due(session, OutgoingMail, now, limit, policy.lease_s,
                               OutgoingMail.id, OutgoingMail.order_id, OutgoingMail.kind,
                               OutgoingMail.recipient, OutgoingMail.subject, OutgoingMail.body,
                               OutgoingMail.attempts)
    return [OutgoingMessage(row.id, row.order_id, row.kind, row.recipient, row.subject,
                            row.body, row.attempts) for row in claimed]


def record_sent(session: Session, mail_ids: list[int], now: datetime) -> None:
    if mail_ids:
        session.execute(update(OutgoingMail).where(OutgoingMail.id.in_(mail_ids))
                        .values(status=SENT, sent_at=now, last_error=None)
                        .execution_options(synchronize_session=False))


def record_failure(session: Session, message: OutgoingMessage, error: str, now: datetime,
                   policy: RetryPolicy) -> None:
    """Schedule the next try with backoff, or give up after `policy.max_attempts`."""
    values, gave_up = outbox.failure_values(message.attempts, error, now, policy)
    if gave_up:
        log.error("gave up on mail %d to %s after %d attempts: %s", message.mail_id,
                  message.recipient, message.attempts, error)
    session.execute(update(OutgoingMail).where(OutgoingMail.id == message.mail_id)
                    .values(**values).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int


def deliver_due(database: Database, mailer: Mailer, policy: RetryPolicy,
                limit: int = 50) -> DeliveryReport:
    """Send the mails that are due; failures wait for their next try. Never holds a lock
    while talking to the mail provider."""
    now = utcnow()
    if not outbox.any_due(database, OutgoingMail, now):
        return DeliveryReport(0, 0)
    with database.transaction() as session:
        messages = claim_due(session, now, limit, policy)
    if not messages:
        return DeliveryReport(0, 0)
    try:
        errors = mailer.send_all(messages)
    except Exception as problem:  # a mailer bug must not strand claimed mail until the lease
        log.exception("the mailer failed")
        errors = {m.mail_id: f"{type(problem).__name__}: {problem}" for m in messages}
    now = utcnow()
    with database.transaction() as session:
        record_sent(session, [m.mail_id for m in messages if errors.get(m.mail_id) is None], now)
        for message in messages:
            if errors.get(message.mail_id) is not None:
                record_failure(session, message, errors[message.mail_id], now, policy)
    failed = sum(1 for m in messages if errors.get(m.mail_id) is not None)
    if failed:
        log.warning("%d of %d mails not delivered, retrying later: %s", failed, len(messages),
                    next(e for e in errors.values() if e))
    return DeliveryReport(len(messages) - failed, failed)
