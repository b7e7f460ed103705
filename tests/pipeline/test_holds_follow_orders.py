"""An order's lines hold its units while it awaits payment or is paid, and no longer once it
is confirmed (sold), declined or cancelled (given back): the order's status decides, and the
conditional transition that changes it is what makes each sale or release happen once.

Checked through every way an order leaves its hold, each applied twice (a redelivered queue
entry, a second expiry sweep), with the disaster-recovery drill's own check that `reserved`
equals what the holding orders' lines bought.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update

from shop.backup.verify import CHECKS
from shop.core.timeutil import utcnow
from shop.orders.confirm import confirm_paid_orders
from shop.orders.models import Order
from shop.orders.service import expire_reservations
from tests.pipeline.support import buy_many
from tests.support.gateways import pending_checkout

pytestmark = pytest.mark.redis_topologies


def holds_disagree(database) -> int:
    """Products whose `reserved` differs from their holding orders' lines (the drill's check)."""
    sql, _ = CHECKS["reservations_not_matching"]
    with database.engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def test_every_way_out_of_a_hold_happens_once(api, shop, app, state):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=10)
    paid = buy_many(api, shop, 3)
    declined = api.buy(shop, "MUG", 2, token="tok_declined")
    assert declined.get_json()["status"] == "payment_failed", declined.get_json()
    abandoned = pending_checkout(app, api, shop, "MUG", 2).id
    # Three paid units and two awaiting payment are held; the declined two went back.
    assert state.product("MUG") == (10, 5)
    assert holds_disagree(database) == 0

    for _ in range(2):  # the second delivery finds them confirmed and sells nothing again
        with database.transaction() as session:
            confirm_paid_orders(session, paid[:2], utcnow())
        assert state.product("MUG") == (8, 3)
        assert holds_disagree(database) == 0

    with database.transaction() as session:
        session.execute(update(Order).where(Order.id == abandoned).values(
            reservation_expires_at=utcnow() - timedelta(minutes=1)))
    for expected in ([abandoned], []):  # the second sweep finds nothing left to cancel
        with database.transaction() as session:
            assert expire_reservations(session) == expected
        assert state.product("MUG") == (8, 1)
        assert holds_disagree(database) == 0

    with database.transaction() as session:
        result = confirm_paid_orders(session, [paid[2], abandoned, paid[0]], utcnow())
    assert result.confirmed == [paid[2]]
    assert state.product("MUG") == (7, 0)
    assert holds_disagree(database) == 0
    assert state.statuses() == {"confirmed": 3, "payment_failed": 1, "cancelled": 1}


def test_the_drill_notices_a_hold_no_order_explains(api, shop, app, state):
    """The check the test above relies on can fail: units reserved for no holding order."""
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=10)
    [order_id] = buy_many(api, shop, 1)
    with database.transaction() as session:
        confirm_paid_orders(session, [order_id], utcnow())
    assert holds_disagree(database) == 0
    with database.transaction() as session:
        session.execute(text("UPDATE products SET reserved = 1"))
    assert holds_disagree(database) == 1
