"""The worker books carrier days last: planned from a read, booked just before the commit.

When another batch takes a day's room between the plan and the booking, what was written
with the plan goes back to a savepoint and the batch books first, under lock: still never
above capacity, one mail per order, every order confirmed once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from shop.core.timeutil import utcnow
from shop.fulfilment.booking import RoomGone, plan_slots, take_bookings, usable_carriers
from shop.fulfilment.models import CarrierDay
from shop.fulfilment.working_days import WorkingCalendar
from shop.orders.confirm import confirm_paid_orders
from tests.pipeline.support import buy_many


def add_carrier(api, shop, name: str, capacity: int, priority: int) -> dict:
    response = api.client.post(f"/api/v1/shops/{shop.slug}/carriers", headers=shop.auth,
                               json={"name": name, "daily_capacity": capacity,
                                     "transit_days": 1, "priority": priority})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_plan_whose_room_went_books_nothing(api, shop, app, state):
    database = app.extensions["peakshop"].database
    express = add_carrier(api, shop, "Express", 4, 0)
    now = utcnow()
    with database.transaction() as session:
        carriers = usable_carriers(session, shop.merchant_id)
        # Planned on an empty day...
        _, plan, _ = plan_slots(carriers, {}, 3, now.date(), hour=now.hour)
    [planned] = plan
    with database.transaction() as session:  # ...which another batch then filled
        take_bookings(session, [planned])
    with pytest.raises(RoomGone), database.transaction() as session:
        take_bookings(session, plan)
    assert state.carrier_days() == {(express["id"], planned.day.isoformat()): 3}


def test_a_batch_that_lost_its_room_books_again_under_lock(api, shop, app, state,
                                                          database_url):
    """PostgreSQL only: on SQLite a batch holds the one write lock from its first statement,
    so no other batch can take a day between its plan and its booking."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer leaves no room to lose between plan and booking")
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=20)
    express = add_carrier(api, shop, "Express", 5, 0)
    backup = add_carrier(api, shop, "Backup", 50, 1)
    order_ids = buy_many(api, shop, 4)
    now = utcnow()
    first_day = WorkingCalendar("DE").next_working_day(now.date())  # where they leave from
    days = CarrierDay.__table__
    with database.engine.begin() as connection:
        connection.execute(days.insert().values(carrier_id=express["id"], day=first_day,
                                                booked=1))
    raced = []

    def another_batch_takes_the_room(conn, cursor, statement, *_):
        # Just before this batch books the 4 slots it planned, another takes 3 of the 4 left.
        if statement.lstrip().upper().startswith("UPDATE CARRIER_DAYS") and not raced:
            raced.append(statement)
            with database.engine.begin() as other:
                other.execute(update(days).where(days.c.carrier_id == express["id"],
                                                 days.c.day == first_day)
                              .values(booked=days.c.booked + 3))

    event.listen(database.engine, "before_cursor_execute", another_batch_takes_the_room)
    try:
        with database.transaction() as session:
            result = confirm_paid_orders(session, order_ids, now)
    finally:
        event.remove(database.engine, "before_cursor_execute", another_batch_takes_the_room)

    assert raced, "the race was staged"
    assert sorted(result.confirmed) == sorted(order_ids)
    # Express full (1 before, 3 by the other batch, 1 of ours), never above; the rest Backup.
    assert state.carrier_days() == {(express["id"], first_day.isoformat()): 5,
                                    (backup["id"], first_day.isoformat()): 3}
    assert sorted(mail.order_id for mail in state.mails()) == sorted(order_ids)
    assert state.count("confirmed") == 4
    assert state.product("MUG") == (16, 0)
    carriers = {order.id: order.carrier_id for order in state.orders()}
    assert sorted(carriers.values()) == sorted([express["id"]] + [backup["id"]] * 3)


def test_a_redelivered_batch_changes_nothing(api, shop, app, state):
    database = app.extensions["peakshop"].database
    api.add_product(shop, "MUG", stock=20)
    add_carrier(api, shop, "Express", 10, 0)
    order_ids = buy_many(api, shop, 3)
    for attempt in range(2):
        with database.transaction() as session:
            result = confirm_paid_orders(session, order_ids, utcnow())
        assert len(result.confirmed) == (3 if attempt == 0 else 0)
    assert sum(state.carrier_days().values()) == 3
    assert sorted(mail.order_id for mail in state.mails()) == sorted(order_ids)
    assert state.product("MUG") == (17, 0)
