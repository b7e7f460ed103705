"""Anonymising shoppers' personal data: plain functions over a Session or the Database.

What is personal in an order is the shopper's e-mail and shipping address (and the mails
sent to them); they are replaced, the rest — lines, totals, the country for tax reports —
stays, so the books still add up. Orders still open (unpaid, or paid and not yet
confirmed) keep their data: the shop needs it to deliver; they are erased once closed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.core.db import Database
from shop.core.timeutil import utcnow
from shop.notifications.models import OutgoingMail
from shop.orders.models import Order
from shop.privacy.models import PersonalDataErasure

log = logging.getLogger(__name__)

ERASED_EMAIL = "erased@anonymised.invalid"
ERASED_TEXT = "(erased)"
CLOSED_STATUSES = ("confirmed", "payment_failed", "cancelled")
BATCH = 500


@dataclass(frozen=True)
class Erasure:
    id: int
    subject_sha256: str | None
    orders_anonymised: int
    orders_kept_open: int
    mails_erased: int
    created_at: datetime


def subject_sha256(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _anonymise(session: Session, order_ids: list[str], now: datetime) -> int:
    """Replace the personal data of these orders and their mails; returns mails erased."""
    rows = session.execute(select(Order.id, Order.shipping_address)
                           .where(Order.id.in_(order_ids))).all()
    for order_id, address in rows:
        country = (address or {}).get("country") if isinstance(address, dict) else None
        session.execute(update(Order).where(Order.id == order_id).values(
            email=ERASED_EMAIL, shipping_address={"country": country} if country else {},
            personal_data_erased_at=now))
    erased = session.execute(update(OutgoingMail)
                             .where(OutgoingMail.order_id.in_(order_ids))
                             .values(recipient=ERASED_EMAIL, body=ERASED_TEXT)).rowcount
    # Mail not yet sent never will be: its recipient is gone.
    session.execute(update(OutgoingMail)
                    .where(OutgoingMail.order_id.in_(order_ids),
                           OutgoingMail.status == "pending")
                    .values(status="erased"))
    return erased


def erase_shopper(session: Session, merchant_id: int, email: str,
                  requested_by: int | None) -> Erasure:
    """Erase one shopper's data from one merchant's closed orders, and log it."""
    now = utcnow()
    mine = (Order.merchant_id == merchant_id) & (func.lower(Order.email) == email.lower())
    closed = list(session.scalars(select(Order.id).where(
        mine, Order.status.in_(CLOSED_STATUSES))))
    kept_open = session.scalar(select(func.count()).select_from(Order).where(
        mine, Order.status.not_in(CLOSED_STATUSES))) or 0
    mails = 0
    for start in range(0, len(closed), BATCH):
        mails += _anonymise(session, closed[start:start + BATCH], now)
    entry = PersonalDataErasure(merchant_id=merchant_id, reason="request",
                                subject_sha256=subject_sha256(email),
                                requested_by=requested_by, orders_anonymised=len(closed),
                                orders_kept_open=kept_open, mails_erased=mails, created_at=now)
    session.add(entry)
    session.flush()
    log.info("erased the personal data of one shopper of merchant %s: %d orders, %d mails, "
             "%d open orders kept", merchant_id, len(closed), mails, kept_open)
    return Erasure(entry.id, entry.subject_sha256, len(closed), kept_open, mails, now)


def anonymise_expired(database: Database, retention_days: int,
                      now: datetime | None = None) -> int:
    """Anonymise closed orders older than the retention period, batch by batch; one log
    entry per run that found any. Returns how many orders."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    due = (select(Order.id).where(Order.created_at < cutoff,
                                  Order.status.in_(CLOSED_STATUSES),
                                  Order.personal_data_erased_at.is_(None)).limit(BATCH))
    orders = mails = 0
    while True:
        # Look before locking: on SQLite a write transaction blocks every other writer.
        with database.reading() as session:
            batch = list(session.scalars(due))
        if not batch:
            break
        with database.transaction() as session:
            mails += _anonymise(session, batch, now)
        orders += len(batch)
    if orders:
        with database.transaction() as session:
            session.add(PersonalDataErasure(reason="retention", orders_anonymised=orders,
                                            mails_erased=mails, created_at=now))
        log.info("anonymised %d orders older than %d days (%d mails)", orders,
                 retention_days, mails)
    return orders
