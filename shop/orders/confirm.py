"""Confirming paid orders: the worker's one transaction per batch of queue messages.

Exactly-once effects under at-least-once delivery rest on the first statement: the
conditional transition `paid -> confirmed` (`UPDATE ... WHERE status = 'paid' RETURNING id`).
Only the orders it returns get the other effects — stock committed, a carrier slot booked,
a confirmation mail queued — and all of them commit or roll back together. A message
delivered twice, or handled by two workers at once, finds its order already confirmed (on
PostgreSQL the second UPDATE waits for the first's row lock, then no longer matches), so it
changes nothing.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.fulfilment.booking import Slot, arrives_before_christmas, book_slots
from shop.notifications.service import ConfirmationFacts, queue_confirmations
from shop.orders.models import Order, OrderLine


@dataclass(frozen=True)
class ConfirmResult:
    confirmed: list[str]  # confirmed by this call
    skipped: list[str]  # already confirmed, not paid, or unknown: nothing to do


def confirm_paid_orders(session: Session, order_ids: list[str], now: datetime) -> ConfirmResult:
    """Confirm every order of `order_ids` that is still paid, in the caller's transaction."""
    wanted = list(dict.fromkeys(order_id for order_id in order_ids if order_id))
    if not wanted:
        return ConfirmResult([], [])
    transitioned = dict(session.execute(
        update(Order)
        .where(Order.id.in_(wanted), Order.status == "paid")
        .values(status="confirmed", confirmed_at=now, updated_at=now)
        .returning(Order.id, Order.merchant_id)
        .execution_options(synchronize_session=False)).all())
    # Queue order: who paid first is booked first.
    confirmed = [order_id for order_id in wanted if order_id in transitioned]
    if confirmed:
        slots = _book_carriers(session, confirmed, transitioned, now)
        session.execute(update(Order), [
            {"id": order_id, "carrier_id": slot.carrier_id,
             "promised_delivery_date": slot.promised_delivery_date}
            for order_id, slot in slots.items()])
        queue_confirmations(session, _facts(session, confirmed, slots))
        commit_reservations_of(session, confirmed)
    return ConfirmResult(confirmed, [order_id for order_id in wanted
                                     if order_id not in transitioned])


def _book_carriers(session: Session, confirmed: list[str], merchant_of: dict[str, int],
                   now: datetime) -> dict[str, Slot]:
    by_merchant: dict[int, list[str]] = collections.defaultdict(list)
    for order_id in confirmed:
        by_merchant[merchant_of[order_id]].append(order_id)
    slots: dict[str, Slot] = {}
    for merchant_id in sorted(by_merchant):  # one lock order for every worker
        orders = by_merchant[merchant_id]
        slots.update(zip(orders, book_slots(session, merchant_id, len(orders), now.date()),
                         strict=True))
    return slots


def commit_reservations_of(session: Session, order_ids: list[str]) -> None:
    """The batch form of `orders.service.commit_reservations`: held units become sold ones.

    Stock rows are updated once per product, in product-id order like checkout's holds, so
    concurrent batches and checkouts lock them in the same order and never deadlock.
    """
    committed = session.execute(
        update(OrderLine)
        .where(OrderLine.order_id.in_(order_ids), OrderLine.reservation == "held")
        .values(reservation="committed")
        .returning(OrderLine.product_id, OrderLine.quantity)
        .execution_options(synchronize_session=False)).all()
    sold: dict[int, int] = collections.Counter()
    for product_id, quantity in committed:
        sold[product_id] += quantity
    for product_id in sorted(sold):
        session.execute(update(Product).where(Product.id == product_id)
                        .values(reserved=Product.reserved - sold[product_id],
                                stock=Product.stock - sold[product_id])
                        .execution_options(synchronize_session=False))


def _facts(session: Session, confirmed: list[str],
           slots: dict[str, Slot]) -> list[ConfirmationFacts]:
    orders = {row.id: row for row in session.execute(
        select(Order.id, Order.email, Order.total_amount, Order.currency)
        .where(Order.id.in_(confirmed)))}
    items: dict[str, list[tuple[str, int, int]]] = collections.defaultdict(list)
    for line in session.execute(select(OrderLine.order_id, OrderLine.name, OrderLine.quantity,
                                       OrderLine.unit_price_amount)
                                .where(OrderLine.order_id.in_(confirmed))
                                .order_by(OrderLine.id)):
        items[line.order_id].append((line.name, line.quantity, line.unit_price_amount))
    return [ConfirmationFacts(
        order_id=order_id, email=orders[order_id].email, items=items[order_id],
        total_amount=orders[order_id].total_amount, currency=orders[order_id].currency,
        carrier_name=slots[order_id].carrier_name,
        promised_delivery_date=slots[order_id].promised_delivery_date,
        arrives_before_christmas=bool(arrives_before_christmas(
            slots[order_id].promised_delivery_date)))
        for order_id in confirmed]
