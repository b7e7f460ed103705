"""Is a restored database a shop that works? Checks of what orders promise, read in SQL.

Pure reads over one connection (one snapshot), so every check sees the same moment: the
recovery point. Each check counts offenders; a healthy restore counts none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

# name -> (SQL counting offenders, what it means when it is not zero)
CHECKS: dict[str, tuple[str, str]] = {
    "orders_without_lines": (
        "SELECT count(*) FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_lines l WHERE l.order_id = o.id)",
        "orders whose lines are missing"),
    "lines_without_order": (
        "SELECT count(*) FROM order_lines l WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.id = l.order_id)",
        "order lines whose order is missing"),
    # Joins against one aggregate rather than a subquery per order: a hash join, seconds
    # for a million orders.
    "totals_not_adding_up": (
        "SELECT count(*) FROM orders o LEFT JOIN (SELECT order_id, "
        "sum(quantity * unit_price_amount) AS lines_total FROM order_lines GROUP BY order_id) l "
        "ON l.order_id = o.id WHERE o.total_amount <> coalesce(l.lines_total, 0){extra_charges}",
        "orders whose total differs from the sum of their lines"),
    "stock_over_reserved": (
        "SELECT count(*) FROM products WHERE reserved > stock OR stock < 0 OR reserved < 0",
        "products with more units reserved than in stock"),
    "reservations_not_matching": (
        # An order's lines hold stock while it awaits payment or is paid.
        "SELECT count(*) FROM products p LEFT JOIN (SELECT l.product_id, sum(l.quantity) AS "
        "held FROM order_lines l JOIN orders o ON o.id = l.order_id "
        "WHERE o.status IN ('pending_payment', 'paid') GROUP BY l.product_id) h "
        "ON h.product_id = p.id WHERE p.reserved <> coalesce(h.held, 0)",
        "products whose reserved count differs from their orders' held lines"),
    "paid_without_outbox": (
        "SELECT count(*) FROM orders o WHERE o.status IN ('paid', 'confirmed') "
        "AND NOT EXISTS (SELECT 1 FROM outbox m WHERE m.order_id = o.id "
        "AND m.topic = 'order.paid')",
        "paid orders with no outbox message (the worker would never confirm them)"),
    "outbox_without_order": (
        "SELECT count(DISTINCT m.order_id) FROM outbox m WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.id = m.order_id)",
        "orders announced in the outbox that are missing"),
}
# Offenders of these are orders (or lines of orders) that should exist and do not.
MISSING_ORDER_CHECKS = ("orders_without_lines", "outbox_without_order")
REQUIRED_TABLES = ("orders", "order_lines", "products", "outbox", "alembic_version")


@dataclass
class Verification:
    orders_checked: int = 0
    orders_missing: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    descriptions: list[str] = field(default_factory=list)
    schema_revision: str | None = None

    @property
    def verified(self) -> bool:
        return not self.problems and self.schema_revision is not None


def _extra_charges(connection: Connection) -> str:
    # Shipping, when orders carry it, is part of the total too.
    columns = {column["name"] for column in inspect(connection).get_columns("orders")}
    return "".join(f" + o.{name}" for name in ("shipping_amount",) if name in columns)


def verify(connection: Connection) -> Verification:
    """Run every check; a missing table is itself a failure."""
    result = Verification()
    tables = set(inspect(connection).get_table_names())
    missing_tables = [name for name in REQUIRED_TABLES if name not in tables]
    if missing_tables:
        result.problems["missing_tables"] = len(missing_tables)
        result.descriptions.append("tables missing: " + ", ".join(missing_tables))
        return result
    result.schema_revision = connection.execute(
        text("SELECT version_num FROM alembic_version")).scalar()
    result.orders_checked = connection.execute(text("SELECT count(*) FROM orders")).scalar()
    extra = _extra_charges(connection)
    for name, (sql, meaning) in CHECKS.items():
        offenders = connection.execute(text(sql.format(extra_charges=extra))).scalar() or 0
        if offenders:
            result.problems[name] = offenders
            result.descriptions.append(f"{offenders} {meaning}")
            if name in MISSING_ORDER_CHECKS:
                result.orders_missing += offenders
    return result
