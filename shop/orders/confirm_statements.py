"""The statements of a confirmation batch, per database.

On PostgreSQL each is one prebuilt statement whose batch travels as binary array parameters
(`%(name)b`, psycopg's binary format): a batch of 200 orders as 200 bound parameters, or as
an array in text format, costs the worker more to render, quote and send than PostgreSQL
spends running the statement. Elsewhere (SQLite) they are SQLAlchemy Core statements with
`IN` lists. Both forms lock, match and write the same rows in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.orders.models import Order, OrderLine, still_in

# Core tables, not ORM entities: a batch is a handful of set-based statements, and the
# ORM's per-statement bookkeeping would cost more than the statements themselves.
ORDERS = Order.__table__
ORDER_LINES = OrderLine.__table__
PRODUCTS = Product.__table__

PAID_ORDER_COLUMNS = ("id", "merchant_id", "email", "total_amount", "currency",
                      "shipping_option", "shipping_amount", "tax_amount", "prices_include_vat")
SOLD_LINE_COLUMNS = ("id", "order_id", "product_id", "name", "quantity", "unit_price_amount")


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_paid_orders(session: Session, order_ids: list[str]) -> Sequence[Row]:
    """The orders of `order_ids` still paid, locked in id order (on PostgreSQL; SQLite's
    writer lock already excludes everyone)."""
    if _on_postgresql(session):
        return session.connection().exec_driver_sql(_LOCK_PAID, {"ids": order_ids}).all()
    return session.execute(
        select(*(ORDERS.c[name] for name in PAID_ORDER_COLUMNS))
        .where(ORDERS.c.id.in_(order_ids), still_in("paid"))
        .order_by(ORDERS.c.id).with_for_update()).all()


# The batch's orders are found by their ids alone: `(status = 'paid') IS TRUE` is checked on
# each row found but can never lead the search. As `status = 'paid'` it could, through the
# status index, and the planner takes that road when its statistics say few orders are paid:
# stale after a burst of sales, or none yet on a fresh database. Every batch then read every
# paid order (34-37 ms a batch of 200 among 20,000 paid orders, against 2-5 ms by id).
_PAID_ROW = "(status = 'paid') IS TRUE"

_LOCK_PAID = f"""
    SELECT {", ".join(PAID_ORDER_COLUMNS)} FROM orders
    WHERE id = ANY(%(ids)b) AND {_PAID_ROW}
    ORDER BY id FOR UPDATE"""


def lines_of(session: Session, order_ids: list[str]) -> Sequence[Row]:
    """Every line of these orders. Called with orders this transaction locked as paid, whose
    lines all move from held to sold with them: a line's hold is its order's status, so the
    lines themselves are only read."""
    if _on_postgresql(session):
        return session.connection().exec_driver_sql(_LINES_OF, {"ids": order_ids}).all()
    return session.execute(
        select(*(ORDER_LINES.c[name] for name in SOLD_LINE_COLUMNS))
        .where(ORDER_LINES.c.order_id.in_(order_ids))).all()


_LINES_OF = f"""
    SELECT {", ".join(SOLD_LINE_COLUMNS)} FROM order_lines WHERE order_id = ANY(%(ids)b)"""


def confirm_paid(session: Session, order_ids: list[str], now: datetime,
                 carrier_id: int | None, promised_delivery_date: date) -> list[str]:
    """paid -> confirmed for orders sharing one carrier day; the ids that moved."""
    if _on_postgresql(session):
        return list(session.connection().exec_driver_sql(_CONFIRM, {
            "ids": order_ids, "now": now, "carrier_id": carrier_id,
            "promised": promised_delivery_date}).scalars().all())
    return list(session.scalars(
        update(ORDERS).where(ORDERS.c.id.in_(order_ids), still_in("paid"))
        .values(status="confirmed", confirmed_at=now, updated_at=now, carrier_id=carrier_id,
                promised_delivery_date=promised_delivery_date)
        .returning(ORDERS.c.id)).all())


_CONFIRM = f"""
    UPDATE orders SET status = 'confirmed', confirmed_at = %(now)s, updated_at = %(now)s,
        carrier_id = %(carrier_id)s, promised_delivery_date = %(promised)s
    WHERE id = ANY(%(ids)b) AND {_PAID_ROW}
    RETURNING id"""


def take_from_stock(session: Session, sold: dict[int, int], now: datetime) -> None:
    """Sold units leave stock and reservations, each product updated once, in product-id
    order like checkout's holds, so concurrent batches and checkouts never deadlock."""
    products = sorted(sold)
    if _on_postgresql(session):
        session.connection().exec_driver_sql(_TAKE_FROM_STOCK, {
            "products": products, "sold": [sold[product] for product in products],
            "now": now})
        return
    # One executemany, which the driver sends in a single round trip, in list order.
    session.execute(
        update(PRODUCTS).where(PRODUCTS.c.id == bindparam("b_product"))
        .values(reserved=PRODUCTS.c.reserved - bindparam("b_sold"),
                stock=PRODUCTS.c.stock - bindparam("b_sold")),
        [{"b_product": product, "b_sold": sold[product]} for product in products])


# The rows are locked first, in product-id order (a join's own order is the planner's
# choice), then updated in the same statement.
_TAKE_FROM_STOCK = """
    WITH locked AS MATERIALIZED (
        SELECT id FROM products WHERE id = ANY(CAST(%(products)b AS INTEGER[]))
        ORDER BY id FOR UPDATE)
    UPDATE products
    SET reserved = products.reserved - sold.units, stock = products.stock - sold.units,
        updated_at = %(now)s
    FROM unnest(CAST(%(products)b AS INTEGER[]), CAST(%(sold)b AS INTEGER[]))
         AS sold(id, units)
    WHERE products.id = sold.id AND products.id IN (SELECT id FROM locked)"""
