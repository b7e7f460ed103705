"""The back-office's orders in HTML: the list, filtered by status and paged with the JSON
API's cursor (every order reachable), and one order's lines, shipping, tax and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shop.catalog.service import parse_limit
from shop.core import resources
from shop.core.errors import NotFound
from shop.merchants import service as merchants
from shop.merchants.access import acting
from shop.merchants.page_kit import render_page
from shop.orders import service
from shop.orders.api import carrier_name
from shop.orders.models import ORDER_STATUSES, Order, OrderStatus

# A section of the back-office (`shop.merchants.pages`), under /merchant/shops/<slug>.
blueprint = Blueprint("order_pages", __name__, url_prefix="/shops/<slug>")

# How the back-office names each status (the shopper's pages speak to shoppers instead).
STATUS_LABELS = {
    OrderStatus.PENDING_PAYMENT: "Awaiting payment",
    OrderStatus.PAID: "Paid, being confirmed",
    OrderStatus.CONFIRMED: "Confirmed",
    OrderStatus.PAYMENT_FAILED: "Payment failed",
    OrderStatus.CANCELLED: "Cancelled",
}
MAX_ORDER_ID = 32


@dataclass(frozen=True)
class Milestone:
    at: datetime
    what: str


def history(order: Order) -> list[Milestone]:
    """What happened to the order, oldest first, from the moments it records (no side
    effects). The order keeps the time of each step, not a log, so a failed or cancelled
    order's last step is dated by its last change."""
    steps = [Milestone(order.created_at, "Placed; stock reserved")]
    if order.paid_at:
        steps.append(Milestone(order.paid_at, "Paid"))
    if order.confirmed_at:
        steps.append(Milestone(order.confirmed_at, "Confirmed by the warehouse worker"))
    if order.status in (OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELLED):
        reason = f" ({order.failure_reason.replace('_', ' ')})" if order.failure_reason else ""
        steps.append(Milestone(order.updated_at, STATUS_LABELS[order.status] + reason
                               + "; reserved stock returned"))
    if order.personal_data_erased_at:
        steps.append(Milestone(order.personal_data_erased_at, "Shopper's personal data erased"))
    return sorted(steps, key=lambda step: step.at)


@blueprint.get("/orders")
def list_orders(slug: str):
    """The shop's orders, newest first, optionally of one status; page with a cursor."""
    status = service.parse_status(request.args.get("status"))
    limit = parse_limit(request.args.get("limit"))
    cursor = request.args.get("cursor") or None
    with resources.current().database.reading() as session:
        shop = merchants.shop_by_slug(session, slug)
        items, next_cursor = service.list_orders(session, acting().merchant_id, status,
                                                 limit=limit, after_cursor=cursor)
        return render_page("merchant/orders.html", shop=shop, orders=items,
                               next_cursor=next_cursor, status=status or "",
                               statuses=ORDER_STATUSES, labels=STATUS_LABELS,
                               first_page=cursor is not None)


def _merchant_order(session: Session, merchant_id: int, order_id: str) -> Order:
    """The shop's order with its lines; another shop's order is as unknown as none (404)."""
    order = None
    if len(order_id) <= MAX_ORDER_ID:
        order = session.scalar(select(Order).options(selectinload(Order.lines))
                               .where(Order.id == order_id, Order.merchant_id == merchant_id))
    if order is None:
        raise NotFound(f"this shop has no order {order_id[:40]!r}: pick one from the orders "
                       "list", code="unknown_order")
    return order


@blueprint.get("/orders/<order_id>")
def show_order(slug: str, order_id: str):
    """One order: lines, shipping, tax, totals and what happened to it."""
    with resources.current().database.reading() as session:
        shop = merchants.shop_by_slug(session, slug)
        order = _merchant_order(session, acting().merchant_id, order_id)
        subtotal = sum(line.quantity * line.unit_price_amount for line in order.lines)
        promised = order.promised_delivery_date or order.shipping_promised_date
        return render_page("merchant/order.html", shop=shop, order=order,
                               subtotal=subtotal, carrier=carrier_name(order)
                               or order.shipping_carrier, promised=promised,
                               history=history(order), labels=STATUS_LABELS)
