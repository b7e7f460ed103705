"""A shop's orders at a glance: how many were placed in a period and what they brought in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.orders.models import Order, OrderStatus

# Orders that count as sales: the money was taken. Pending, failed and cancelled ones do not.
SOLD = (OrderStatus.PAID.value, OrderStatus.CONFIRMED.value)


@dataclass(frozen=True)
class SalesTotals:
    orders: int
    revenue_amount: int  # minor units, taxes and shipping included
    awaiting_payment: int


def sales_between(session: Session, merchant_id: int, start: datetime, end: datetime
                  ) -> SalesTotals:
    """Orders placed in [start, end) (naive UTC): the sold ones, their total, the pending."""
    placed = (Order.merchant_id == merchant_id, Order.created_at >= start,
              Order.created_at < end)
    count, revenue = session.execute(
        select(func.count(), func.coalesce(func.sum(Order.total_amount), 0))
        .where(*placed, Order.status.in_(SOLD))).one()
    pending = session.scalar(select(func.count()).select_from(Order).where(
        *placed, Order.status == OrderStatus.PENDING_PAYMENT.value))
    return SalesTotals(count, int(revenue), pending)
