"""Confirming paid orders: the worker's one transaction per batch of queue messages.

Exactly-once effects under at-least-once delivery rest on the conditional transition
`paid -> confirmed` (`UPDATE ... WHERE status = 'paid'`), taken after the paid orders are
locked. Only those orders get the other effects — stock committed, a carrier slot booked,
a confirmation mail queued — and all of them commit or roll back together. A message
delivered twice, or handled by two workers at once, finds its order already confirmed (on
PostgreSQL the second worker's lock waits for the first to commit and then no longer
matches), so it changes nothing.

Every batch books the same few carrier days and takes from the same products, and both stay
locked until the batch commits; everything else a batch writes is its own orders'. So the
carrier days are booked as late as possible: the slots are planned from a read of the
bookings, the orders and their mails written with them, and only then the days booked and
the stock taken, two statements before the commit. If a day filled up meanwhile, what was
written with the plan is rolled back to a savepoint and the batch books first, under lock.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from shop.core.timeutil import utcnow
from shop.fulfilment.booking import (
    Booking,
    CarrierOption,
    RoomGone,
    Slot,
    arrives_before_christmas,
    book_slots,
    bookings_from,
    plan_slots,
    take_bookings,
    usable_carriers,
)
from shop.fulfilment.shipping import carrier_id_of
from shop.notifications.service import ConfirmationFacts, queue_confirmations
from shop.orders import confirm_statements as statements
from shop.orders.links import OrderLinks


@dataclass(frozen=True)
class ConfirmResult:
    confirmed: list[str]  # confirmed by this call
    skipped: list[str]  # already confirmed, not paid, or unknown: nothing to do


def confirm_paid_orders(session: Session, order_ids: list[str], now: datetime,
                        links: OrderLinks | None = None) -> ConfirmResult:
    """Confirm every order of `order_ids` that is still paid, in the caller's transaction.

    With `links`, each confirmation mail links to the shopper's order page."""
    wanted = list(dict.fromkeys(order_id for order_id in order_ids if order_id))
    if not wanted:
        return ConfirmResult([], [])
    # Lock the paid ones first, so that the slots booked below are exactly for the orders
    # the UPDATE then confirms.
    paid = {row.id: row for row in statements.lock_paid_orders(session, wanted)}
    # Queue order: who paid first is booked first.
    candidates = [order_id for order_id in wanted if order_id in paid]
    confirmed: list[str] = []
    if candidates:
        # What they sell. (Every locked candidate is confirmed, or nothing stands.)
        lines = _sold_lines(session, candidates)
        choice_of = {order_id: (row.merchant_id, carrier_id_of(row.shipping_option))
                     for order_id, row in paid.items()}
        try:
            with session.begin_nested():
                slots, bookings = _plan_carriers(session, candidates, choice_of, now)
                confirmed = _transition(session, slots, now)
                queue_confirmations(session, _facts(paid, lines, confirmed, slots, links, now),
                                    now)
                take_bookings(session, bookings)
        except RoomGone:
            # Another batch took the room the plan counted on: book first, under lock.
            slots = _book_carriers(session, candidates, choice_of, now)
            confirmed = _transition(session, slots, now)
            queue_confirmations(session, _facts(paid, lines, confirmed, slots, links, now), now)
        # Stock rows are the ones checkouts wait for: they are locked last, held shortest.
        _take_sold_units_from_stock(session, lines)
    return ConfirmResult(confirmed, [order_id for order_id in wanted
                                     if order_id not in confirmed])


def _transition(session: Session, slots: dict[str, Slot], now: datetime) -> list[str]:
    """paid -> confirmed with carrier and promised date: one UPDATE per carrier day."""
    confirmed: set[str] = set()
    for slot, order_ids in _orders_by_slot(slots):
        confirmed.update(statements.confirm_paid(session, order_ids, now, slot.carrier_id,
                                                 slot.promised_delivery_date))
    if len(confirmed) != len(slots):
        # Cannot happen while the rows are locked; if it did, the booked slots would be
        # wrong, so nothing of this batch may stand.
        raise RuntimeError(f"{len(slots) - len(confirmed)} locked orders changed status")
    return [order_id for order_id in slots if order_id in confirmed]


def _orders_by_slot(slots: dict[str, Slot]) -> list[tuple[Slot, list[str]]]:
    """The orders of each slot. A plan hands the orders of one carrier day the same Slot
    object, so they are grouped by identity: hashing a Slot (its carrier's calendar
    included) for every order of a batch cost more than the grouping. Equal slots that are
    distinct objects form groups of their own, which changes nothing but the count."""
    groups: dict[int, tuple[Slot, list[str]]] = {}
    for order_id, slot in slots.items():
        group = groups.get(id(slot))
        if group is None:
            groups[id(slot)] = (slot, [order_id])
        else:
            group[1].append(order_id)
    return list(groups.values())


def _book_carriers(session: Session, confirmed: list[str],
                   merchant_of: dict[str, tuple[int, int | None]],
                   now: datetime) -> dict[str, Slot]:
    """Book each order's parcel, with the carrier its shopper chose at checkout first."""
    by_choice: dict[tuple[int, int | None], list[str]] = collections.defaultdict(list)
    for order_id in confirmed:
        by_choice[merchant_of[order_id]].append(order_id)
    slots: dict[str, Slot] = {}
    # One lock order for every worker: by merchant, then by chosen carrier.
    for merchant_id, carrier_id in sorted(by_choice, key=lambda key: (key[0], key[1] or 0)):
        orders = by_choice[(merchant_id, carrier_id)]
        slots.update(zip(orders, book_slots(session, merchant_id, len(orders), now.date(),
                                            hour=now.hour, preferred_carrier_id=carrier_id),
                         strict=True))
    return slots


def _plan_carriers(session: Session, candidates: list[str],
                   choice_of: dict[str, tuple[int, int | None]],
                   now: datetime) -> tuple[dict[str, Slot], list[Booking]]:
    """Each order's slot as `_book_carriers` would book it, and the bookings to take; reads
    the carriers and their bookings once per merchant and locks nothing."""
    by_choice: dict[tuple[int, int | None], list[str]] = collections.defaultdict(list)
    for order_id in candidates:
        by_choice[choice_of[order_id]].append(order_id)
    carriers_of: dict[int, list[CarrierOption]] = {}
    booked: dict = {}
    slots: dict[str, Slot] = {}
    bookings: list[Booking] = []
    for merchant_id, carrier_id in sorted(by_choice, key=lambda key: (key[0], key[1] or 0)):
        if merchant_id not in carriers_of:
            carriers_of[merchant_id] = usable_carriers(session, merchant_id)
            booked.update(bookings_from(session, [carrier.id for carrier in
                                                  carriers_of[merchant_id]], now.date()))
        orders = by_choice[(merchant_id, carrier_id)]
        planned, plan, booked = plan_slots(carriers_of[merchant_id], booked, len(orders),
                                           now.date(), hour=now.hour,
                                           preferred_carrier_id=carrier_id)
        slots.update(zip(orders, planned, strict=True))
        bookings.extend(plan)
    return slots, bookings


class CommittedLine(NamedTuple):
    """A line the batch sells, as its statement returned it (one per confirmed line)."""

    line_id: int
    order_id: str
    product_id: int
    name: str
    quantity: int
    unit_price_amount: int


def _sold_lines(session: Session, order_ids: list[str]) -> list[CommittedLine]:
    """The lines of the locked paid orders, which the batch sells: held until now, sold once
    their orders are confirmed."""
    rows = statements.lines_of(session, order_ids)
    return sorted((CommittedLine(*row) for row in rows), key=lambda line: line.line_id)


def _take_sold_units_from_stock(session: Session, lines: list[CommittedLine]) -> None:
    """Sold units leave stock and reservations."""
    sold: dict[int, int] = collections.Counter()
    for line in lines:
        sold[line.product_id] += line.quantity
    if sold:
        statements.take_from_stock(session, sold, utcnow())


def _facts(orders: dict, lines: list[CommittedLine], confirmed: list[str],
           slots: dict[str, Slot], links: OrderLinks | None,
           now: datetime) -> list[ConfirmationFacts]:
    items: dict[str, list[tuple[str, int, int]]] = collections.defaultdict(list)
    for line in lines:
        items[line.order_id].append((line.name, line.quantity, line.unit_price_amount))
    # A batch fills a few carrier days: their delivery dates (a walk over the carrier's
    # calendar each) are worked out once per slot, not once per order.
    delivery: dict[str, tuple[str, date, bool]] = {}
    for slot, order_ids in _orders_by_slot(slots):
        day = slot.promised_delivery_date
        told = (slot.carrier_name, day, bool(arrives_before_christmas(day, now.date())))
        for order_id in order_ids:
            delivery[order_id] = told
    facts = []
    for order_id in confirmed:
        order = orders[order_id]
        carrier_name, day, before_christmas = delivery[order_id]
        facts.append(ConfirmationFacts(
            order_id=order_id, email=order.email, items=items[order_id],
            total_amount=order.total_amount, currency=order.currency,
            carrier_name=carrier_name, promised_delivery_date=day,
            arrives_before_christmas=before_christmas,
            shipping_amount=order.shipping_amount or 0, tax_amount=order.tax_amount or 0,
            prices_include_vat=order.prices_include_vat is not False,
            order_url=links.order_page(order_id) if links else None))
    return facts
