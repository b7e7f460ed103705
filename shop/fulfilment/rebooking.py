"""When a carrier goes down: move its not-yet-dispatched orders to another carrier, and tell
each shopper by e-mail what changes (the new carrier and date, and Christmas).

Runs in the transaction that marks the carrier down, so a carrier is never down while orders
still count on it. Rebooking uses `booking.book_slots`, the same planner as confirmation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from shop.fulfilment.booking import Slot, arrives_before_christmas, book_slots, calendar_of
from shop.fulfilment.models import Carrier, CarrierDay
from shop.notifications.models import OutgoingMail
from shop.notifications.service import PENDING
from shop.orders.links import OrderLinks
from shop.orders.models import Order

log = logging.getLogger(__name__)

REBOOKED_KIND = "rebooked:{carrier_id}"  # one mail per order and carrier that failed it


@dataclass(frozen=True)
class Rebooked:
    order_id: str
    email: str
    old_carrier: str
    old_date: date
    slot: Slot
    today: date | None = None
    order_url: str | None = None  # the shopper's order page, with its access token

    @property
    def christmas_lost(self) -> bool:
        return bool(arrives_before_christmas(self.old_date, self.today)) and not \
            arrives_before_christmas(self.slot.promised_delivery_date, self.today)


def render_rebooked(change: Rebooked) -> tuple[str, str]:
    """Subject and plain-text body of the mail about a new delivery date; no side effects."""
    new_date = change.slot.promised_delivery_date
    if change.christmas_lost:
        christmas = ("We are very sorry: it will no longer arrive before Christmas Eve. If you "
                     "would rather cancel, reply to this mail and we refund you in full.")
    elif arrives_before_christmas(new_date, change.today):
        christmas = "It still arrives before Christmas Eve."
    else:
        christmas = ""
    subject = f"New delivery date for your order {change.order_id[:8]}"
    body = "\n".join([
        f"We are sorry: {change.old_carrier} cannot deliver your order as planned on "
        f"{change.old_date.isoformat()}.", "",
        f"We have booked {change.slot.carrier_name} instead; expected delivery on "
        f"{new_date.isoformat()}. {christmas}".rstrip(), "",
        f"Order number: {change.order_id}",
        *([f"Your order, at any time: {change.order_url}"] if change.order_url else []), ""])
    return subject, body


def rebook_orders_of(session: Session, carrier: Carrier, now: datetime,
                     links: OrderLinks | None = None) -> list[Rebooked]:
    """Move every confirmed order still waiting for dispatch by `carrier` (now down) and queue
    one mail per order (linking to the order page with `links`); in the caller's transaction."""
    today = now.date()
    calendar = calendar_of(carrier)
    waiting = session.execute(
        select(Order.id, Order.email, Order.promised_delivery_date)
        .where(Order.carrier_id == carrier.id, Order.status == "confirmed",
               Order.promised_delivery_date >= calendar.add_working_days(
                   today, carrier.transit_days))
        .order_by(Order.paid_at, Order.id)
        .with_for_update()).all()
    if not waiting:
        return []
    slots = book_slots(session, carrier.merchant_id, len(waiting), today, hour=now.hour)
    changes = [Rebooked(row.id, row.email, carrier.name, row.promised_delivery_date, slot, today,
                        links.order_page(row.id) if links else None)
               for row, slot in zip(waiting, slots, strict=True)]
    for change in changes:
        session.execute(update(Order).where(Order.id == change.order_id)
                        .values(carrier_id=change.slot.carrier_id,
                                promised_delivery_date=change.slot.promised_delivery_date,
                                updated_at=now))
        dispatch_day = calendar.subtract_working_days(change.old_date, carrier.transit_days)
        # The failed carrier's slot is free again, should it come back up.
        session.execute(update(CarrierDay)
                        .where(CarrierDay.carrier_id == carrier.id,
                               CarrierDay.day == dispatch_day, CarrierDay.booked > 0)
                        .values(booked=CarrierDay.booked - 1))
    session.execute(insert(OutgoingMail.__table__), [
        {"order_id": change.order_id, "kind": REBOOKED_KIND.format(carrier_id=carrier.id),
         "recipient": change.email, "subject": subject, "body": body, "status": PENDING,
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for change in changes for subject, body in [render_rebooked(change)]])
    log.warning("carrier %s of merchant %d went down: %d orders rebooked, %d miss Christmas",
                carrier.name, carrier.merchant_id, len(changes),
                sum(change.christmas_lost for change in changes))
    return changes
