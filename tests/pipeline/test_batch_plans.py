"""How PostgreSQL finds the orders a statement moves on when its statistics are stale.

In a launch thousands of orders await payment or become paid within minutes, while the
planner's statistics still say that such orders are rare (autovacuum analyzes a table after a
tenth of it changed). A statement that asked for `status = 'paid'` as a search condition was
then read through the status index: every batch read every paid order, and the backlog made
each batch slower. Marking one order paid, at every checkout, read every order awaiting
payment the same way. These statements must find their orders by id whatever the statistics
say.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, text

from shop.core.timeutil import utcnow
from shop.orders import confirm_statements
from shop.orders import service as orders
from shop.orders.models import Order, OrderStatus

ORDERS = 5000


def _plan(connection, statement: str, parameters: dict) -> str:
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement,
                                                                  parameters))


def confirmed_orders_analyzed(database, shop) -> list[str]:
    """ORDERS confirmed orders of the shop, and the planner's statistics of them: the ids."""
    with database.reading() as session:
        merchant_id = session.scalar(text("SELECT id FROM merchants WHERE slug = :slug"),
                                     {"slug": shop.slug})
    now = utcnow()
    ids = [uuid.uuid4().hex for _ in range(ORDERS)]
    with database.engine.begin() as connection:
        connection.execute(insert(Order), [
            {"id": order_id, "merchant_id": merchant_id, "email": "a@example.com",
             "shipping_address": {}, "status": "confirmed", "total_amount": 100,
             "currency": "EUR", "payment_gateway": "dummy", "reservation_expires_at": now,
             "created_at": now, "updated_at": now} for order_id in ids])
    with database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "ANALYZE orders")
    return ids


def test_a_batch_is_found_by_id_after_a_burst_the_statistics_have_not_seen(app, shop,
                                                                          database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's batch runs under its single writer lock, with IN lists")
    database = app.extensions["peakshop"].database
    now = utcnow()
    ids = confirmed_orders_analyzed(database, shop)  # the statistics: no order is paid
    batch = {"ids": ids[:200], "now": now, "carrier_id": None, "promised": now.date()}
    with database.engine.connect() as connection, connection.begin() as burst:
        # The burst, unseen by the statistics (nothing is committed for autovacuum to see).
        connection.exec_driver_sql("UPDATE orders SET status = 'paid'")
        searched_by_status = _plan(connection, "SELECT id FROM orders WHERE id = ANY(%(ids)b)"
                                   " AND status = 'paid' ORDER BY id FOR UPDATE", batch)
        plans = [_plan(connection, confirm_statements._LOCK_PAID, batch),
                 _plan(connection, confirm_statements._CONFIRM, batch)]
        burst.rollback()
    # What the planner does with the condition as a search condition: this test can tell.
    assert "ix_orders_status_expiry" in searched_by_status
    for plan in plans:
        assert "ix_orders_status_expiry" not in plan and "ix_orders_merchant_status" not in plan


def test_one_order_is_found_by_id_among_orders_the_statistics_think_rare(app, shop,
                                                                        database_url):
    """Planned for its values, as behind PgBouncer (nothing prepared) or for a statement's
    first runs: marking an order paid, and any other transition of one order."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's writes run under its single writer lock")
    database = app.extensions["peakshop"].database
    now = utcnow()
    # The statistics: no order awaits payment.
    ids = confirmed_orders_analyzed(database, shop)
    with database.engine.connect() as connection, connection.begin() as burst:
        connection.exec_driver_sql("UPDATE orders SET status = 'pending_payment'")
        mark_paid = orders._MARK_PAID_AND_QUEUE.compile(dialect=connection.dialect)
        paid_parameters = {**mark_paid.params, **orders._paid_and_queued(ids[0], "pi_1", now,
                                                                         True),
                           "b_payload": "{}"}  # as the JSON type would send it
        plans = [_plan(connection, str(mark_paid), paid_parameters)]
        for to_status in (OrderStatus.PAID, OrderStatus.CANCELLED):
            statement = orders.transition_statement(ids[1], OrderStatus.PENDING_PAYMENT,
                                                    to_status, {"updated_at": now})
            compiled = statement.compile(dialect=connection.dialect)
            plans.append(_plan(connection, str(compiled), compiled.params))
        searched_by_status = _plan(
            connection, "UPDATE orders SET status = 'paid' WHERE id = %(id)s"
            " AND status = 'pending_payment'", {"id": ids[2]})
        burst.rollback()
    # What the planner does with the condition as a search condition: this test can tell.
    assert "ix_orders_status_expiry" in searched_by_status
    for plan in plans:
        assert "orders_pkey" in plan, plan
        assert "ix_orders_status_expiry" not in plan and "ix_orders_merchant_status" not in plan
